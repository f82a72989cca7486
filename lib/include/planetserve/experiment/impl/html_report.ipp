// SPDX-License-Identifier: MIT
// Compiled body of report.html for runs, comparisons and sweeps.
#pragma once

#include <planetserve/detail/html_escape.hpp>
#include <planetserve/experiment/html_report.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/svg_chart.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstdio>

namespace planetserve::experiment {

namespace {

using detail::html_escaped;

constexpr std::string_view summary_keys[] = {
    "requests",          "ok",                "failed",           "duration_s",
    "request_throughput", "token_throughput", "goodput",          "good_requests",
    "ttft_mean_s",       "ttft_p50_s",        "ttft_p99_s",       "tpot_mean_s",
    "tpot_p99_s",        "itl_mean_s",        "itl_p99_s",        "e2e_mean_s",
    "e2e_p50_s",         "e2e_p99_s",         "send_lag_p99_s",   "prompt_tokens_mean",
    "completion_tokens_mean", "client_cached_ratio", "prefix_hit_ratio", "kv_cache_usage_mean",
    "server_ttft_mean_s", "server_tpot_mean_s",
};

// A JSON value as a cell: numbers to 6 significant digits (what a check against
// summary.json compares), null as "-", strings escaped.
std::string json_cell(const boost::json::value& v) {
  char buf[48];
  if (v.is_double()) {
    std::snprintf(buf, sizeof buf, "%.6g", v.get_double());
    return buf;
  }
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  if (v.is_null()) return "-";
  if (v.is_bool()) return v.get_bool() ? "true" : "false";
  if (v.is_string()) return html_escaped(v.get_string());
  return html_escaped(boost::json::serialize(v), 600);
}

const char* page_style =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1600px}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "th{background:#f4f4f4}td.k,th.k{text-align:left;font-family:monospace}"
    ".charts{display:flex;flex-wrap:wrap;gap:8px}.charts svg{border:1px solid #eee}.note{color:#555;font-size:13px}"
    ".met{color:#17702a}.broken{color:#a11}";

std::string page_start(const report_context& ctx) {
  // The policy forbids every fetch: the page is one file and must stay one.
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
         "<title>" + html_escaped(ctx.title) + "</title>\n<style>" + page_style + "</style></head>\n<body>\n<h1>" +
         html_escaped(ctx.title) + "</h1>\n";
}

std::string facts_table(const report_facts& facts) {
  std::string o = "<table>\n";
  for (const auto& [k, v] : facts)
    o += "<tr><td class=\"k\">" + html_escaped(k) + "</td><td class=\"k\">" + html_escaped(v, 600) + "</td></tr>\n";
  return o + "</table>\n";
}

std::string page_end(std::span<const chart> charts, const report_context& ctx) {
  std::string o;
  if (!charts.empty()) {
    o += "<h2>Figures</h2>\n<div class=\"charts\">\n";
    for (const auto& c : charts) o += svg_chart(c);
    o += "</div>\n";
  }
  o += "<h2>Configuration</h2>\n" + facts_table(ctx.configuration);
  if (!ctx.emulator.empty()) o += "<h2>Emulator profile</h2>\n" + facts_table(ctx.emulator);
  else o += "<p class=\"note\">Real servers (no emulator).</p>\n";
  return o + "</body></html>\n";
}

std::string summary_rows(std::span<const boost::json::object> cols) {
  std::string o;
  for (auto key : summary_keys) {
    bool any = false;
    for (const auto& c : cols) any |= c.contains(key);
    if (!any) continue;
    o += "<tr><td class=\"k\">" + std::string(key) + "</td>";
    for (const auto& c : cols) {
      const auto* v = c.if_contains(key);
      o += "<td data-key=\"" + std::string(key) + "\">" + (v ? json_cell(*v) : "-") + "</td>";
    }
    o += "</tr>\n";
  }
  return o;
}

std::string number_cell(double v, const char* fmt = "%.6g") {
  if (!std::isfinite(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

report_facts facts_of_json(std::string_view json_text) {
  report_facts f;
  boost::system::error_code ec;
  auto v = boost::json::parse(json_text, ec);
  if (ec || !v.is_object()) {
    f.emplace_back("(configuration)", "not readable as a JSON object");
    return f;
  }
  for (const auto& [k, val] : v.as_object())
    f.emplace_back(std::string(k), val.is_string()   ? std::string(val.get_string())
                                    : val.is_double() ? number_cell(val.get_double())  // 0.1, not 1E-1
                                                      : boost::json::serialize(val));
  return f;
}

std::span<const std::string_view> report_summary_keys() noexcept { return summary_keys; }

std::string run_report_html(const run_summary& s, std::span<const chart> charts, const report_context& ctx) {
  std::string o = page_start(ctx);
  const auto j = boost::json::parse(summary_json(s)).as_object();
  o += "<p class=\"note\">Policy <b>" + html_escaped(s.policy) + "</b>, dataset " + html_escaped(s.dataset) +
       ", mean interval " + number_cell(s.average_interval_s) + " s" + (s.interrupted ? ", <b>interrupted</b>" : "") +
       ". Latencies in seconds; client-side from the streams, prefix_hit_ratio, kv_cache_usage_mean and server_* from "
       "the servers' /metrics.</p>\n";
  o += "<h2>Summary</h2>\n<table id=\"summary\"><tr><th class=\"k\">metric</th><th>value</th></tr>\n";
  o += summary_rows(std::span<const boost::json::object>(&j, 1)) + "</table>\n";
  if (!s.nodes.empty()) {
    o += "<h2>Nodes</h2>\n<table><tr><th class=\"k\">node</th><th class=\"k\">url</th><th>requests</th><th>failed</th>"
         "<th>share</th><th>hit ratio</th><th>KV usage</th></tr>\n";
    for (const auto& n : s.nodes)
      o += "<tr><td class=\"k\">" + html_escaped(n.name) + "</td><td class=\"k\">" + html_escaped(n.url) + "</td><td>" +
           std::to_string(n.requests) + "</td><td>" + std::to_string(n.failed) + "</td><td>" + number_cell(n.share) +
           "</td><td>" + number_cell(n.prefix_hit_ratio) + "</td><td>" + number_cell(n.kv_cache_usage_mean) +
           "</td></tr>\n";
    o += "</table>\n";
  }
  if (!s.failures.empty()) {
    o += "<h2>Failures</h2>\n<table>";
    for (const auto& [kind, n] : s.failures)
      o += "<tr><td class=\"k\">" + html_escaped(kind) + "</td><td>" + std::to_string(n) + "</td></tr>";
    o += "</table>\n";
  }
  return o + page_end(charts, ctx);
}

std::string comparison_report_html(std::span<const run_summary> runs, std::span<const chart> charts,
                                   const report_context& ctx) {
  std::string o = page_start(ctx);
  std::vector<boost::json::object> cols;
  o += "<h2>Summary by policy</h2>\n<table id=\"summary\"><tr><th class=\"k\">metric</th>";
  for (const auto& r : runs) {
    cols.push_back(boost::json::parse(summary_json(r)).as_object());
    o += "<th>" + html_escaped(r.policy) + "</th>";
  }
  o += "</tr>\n" + summary_rows(cols) + "</table>\n";
  return o + page_end(charts, ctx);
}

std::string sweep_report_html(std::span<const sweep_point> points, const std::optional<slo_spec>& slo,
                              std::span<const slo_result> searches, std::span<const chart> charts,
                              const report_context& ctx) {
  std::string o = page_start(ctx);
  if (slo) {
    o += "<h2>SLO search: " + html_escaped(to_string(*slo)) + "</h2>\n<table id=\"slo\"><tr><th class=\"k\">policy</th>"
         "<th>highest rate meeting it (req/s)</th><th>last passing</th><th>first failing</th><th>runs</th>"
         "<th class=\"k\">second seed</th></tr>\n";
    for (const auto& r : searches) {
      std::string answer = r.end == slo_search_end::found          ? rate_label(*r.last_pass_rps)
                           : r.end == slo_search_end::lowest_fails ? "none: the lowest rate fails"
                           : r.end == slo_search_end::highest_passes
                               ? "not found: above " + rate_label(*r.last_pass_rps)
                               : "search stopped";
      std::string seed = "-";
      if (auto agree = seed_agrees(r))
        seed = "seed " + std::to_string(*r.second_seed) + (*agree ? ": same verdicts" : ": the boundary moves");
      o += "<tr><td class=\"k\">" + html_escaped(r.policy) + "</td><td>" + html_escaped(answer) + "</td><td>" +
           (r.last_pass_rps ? "<a href=\"" + html_escaped(r.last_pass_run) + "/\">" + rate_label(*r.last_pass_rps) + "</a>"
                            : std::string("-")) +
           "</td><td>" +
           (r.first_fail_rps
                ? "<a href=\"" + html_escaped(r.first_fail_run) + "/\">" + rate_label(*r.first_fail_rps) + "</a>"
                : std::string("-")) +
           "</td><td>" + std::to_string(r.runs) + "</td><td class=\"k\">" + html_escaped(seed) + "</td></tr>\n";
    }
    o += "</table>\n";
  }
  o += "<h2>Points</h2>\n<p class=\"note\">Latencies in ms, client-side; hit ratio from the servers' /metrics. Each "
       "point links its run's folder.</p>\n<table id=\"points\"><tr><th>rate/s</th><th class=\"k\">policy</th>"
       "<th class=\"k\">purpose</th><th>seed</th><th>ok/requests</th><th>TTFT p50</th><th>TTFT p99</th>"
       "<th>TPOT p99</th><th>E2E p99</th><th>throughput/s</th><th>goodput/s</th><th>hit ratio</th>"
       "<th class=\"k\">SLO</th><th class=\"k\">run</th></tr>\n";
  for (const auto& p : points) {
    const auto& s = p.summary;
    std::string verdict = !p.slo_met ? "" : *p.slo_met ? "<span class=\"met\">met</span>" : "<span class=\"broken\">broken";
    if (p.slo_met && !*p.slo_met) {
      for (const auto& v : p.slo_violations) verdict += "; " + html_escaped(v);
      verdict += "</span>";
    }
    o += "<tr><td>" + rate_label(p.rate_rps) + "</td><td class=\"k\">" + html_escaped(p.policy) + "</td><td class=\"k\">" +
         std::string(to_string(p.purpose)) + "</td><td>" + std::to_string(p.seed) + "</td><td>" + std::to_string(s.ok) +
         "/" + std::to_string(s.requests) + "</td><td>" + number_cell(s.ttft_p50_s * 1e3, "%.1f") + "</td><td>" +
         number_cell(s.ttft_p99_s * 1e3, "%.1f") + "</td><td>" + number_cell(s.tpot_p99_s * 1e3, "%.2f") + "</td><td>" +
         number_cell(s.e2e_p99_s * 1e3, "%.1f") + "</td><td>" + number_cell(s.request_throughput, "%.3f") + "</td><td>" +
         (s.goodput ? number_cell(*s.goodput, "%.3f") : std::string("-")) + "</td><td>" +
         number_cell(s.prefix_hit_ratio, "%.3f") + "</td><td class=\"k\">" + verdict + "</td><td class=\"k\"><a href=\"" +
         html_escaped(p.run_dir) + "/\">" + html_escaped(p.run_dir) + "</a></td></tr>\n";
  }
  o += "</table>\n";
  return o + page_end(charts, ctx);
}

}  // namespace planetserve::experiment
