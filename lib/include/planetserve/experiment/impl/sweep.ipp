// SPDX-License-Identifier: MIT
// Compiled body of the sweep's rate list, sweep.json, its table and its curves.
#pragma once

#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/sweep.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

namespace planetserve::experiment {

namespace {

boost::json::value sweep_num(double v) {
  return std::isfinite(v) ? boost::json::value(v) : boost::json::value(nullptr);
}

boost::json::value sweep_opt_rate(const std::optional<double>& v) {
  return v ? sweep_num(*v) : boost::json::value(nullptr);
}

// "%.*f" of a value, "-" when it is missing: table cells.
std::string sweep_cell(double v, int decimals, double scale = 1.0) {
  if (!std::isfinite(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v * scale);
  return buf;
}

std::vector<std::string> policies_in_order(std::span<const sweep_point> points) {
  std::vector<std::string> names;
  for (const auto& p : points)
    if (std::find(names.begin(), names.end(), p.policy) == names.end()) names.push_back(p.policy);
  return names;
}

}  // namespace

result<std::vector<double>> parse_load_list(std::string_view text, std::string_view flag, diagnostics& diag) {
  const bool intervals = flag == "--average-interval";
  const std::string example = intervals ? "e.g. " + std::string(flag) + " 1,0.5,0.25,0.125 (seconds, light to heavy load)"
                                        : "e.g. " + std::string(flag) + " 1,2,4,8,16 (req/s, light to heavy load)";
  auto fail = [&](const std::string& why) {
    diag.message = std::string(flag) + " '" + std::string(text) + "': " + why + "; " + example;
    return make_error_code(error::invalid_argument);
  };
  std::vector<double> values;
  std::size_t i = 0;
  while (i <= text.size()) {
    const std::size_t j = std::min(text.find(',', i), text.size());
    std::string_view part = text.substr(i, j - i);
    i = j + 1;
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part.empty()) {
      if (j < text.size() || !values.empty()) return fail("an empty entry");
      continue;
    }
    double v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || end != part.data() + part.size() || !std::isfinite(v) || !(v > 0))
      return fail("'" + std::string(part) + "' is not a positive number");
    if (intervals && v > 1e7) return fail("'" + std::string(part) + "' is more than 10000000 seconds");
    values.push_back(v);
  }
  if (values.empty()) return fail("the list is empty");
  std::vector<double> rates;
  for (double v : values) rates.push_back(intervals ? 1.0 / v : v);
  for (std::size_t k = 1; k < rates.size(); ++k)
    if (!(rates[k] > rates[k - 1]))
      return fail(intervals ? "the intervals must decrease (each load heavier than the one before), without repeats"
                            : "the rates must increase, without repeats");
  return rates;
}

std::string rate_label(double rate_rps) {
  char buf[32];
  // Six significant digits are plenty for a folder name and keep 1/3 from printing 17 digits.
  std::snprintf(buf, sizeof buf, "%.6g", rate_rps);
  return buf;
}

std::string_view to_string(sweep_purpose p) noexcept {
  switch (p) {
    case sweep_purpose::search: return "search";
    case sweep_purpose::seed_check: return "seed_check";
    case sweep_purpose::sweep: break;
  }
  return "sweep";
}

std::optional<bool> seed_agrees(const slo_result& r) noexcept {
  if (!r.second_seed) return std::nullopt;
  const bool pass_ok = !r.last_pass_rps || r.second_seed_last_pass_met.value_or(true);
  const bool fail_ok = !r.first_fail_rps || !r.second_seed_first_fail_met.value_or(false);
  return pass_ok && fail_ok;
}

std::string sweep_json(std::string_view dataset, std::span<const sweep_point> points,
                       const std::optional<slo_spec>& slo, double slo_tolerance,
                       std::span<const slo_result> searches) {
  namespace json = boost::json;
  json::object o;
  o["dataset"] = dataset;
  json::array pols;
  for (const auto& n : policies_in_order(points)) pols.emplace_back(n);
  o["policies"] = std::move(pols);
  std::vector<double> rates;
  for (const auto& p : points)
    if (p.purpose == sweep_purpose::sweep && std::find(rates.begin(), rates.end(), p.rate_rps) == rates.end())
      rates.push_back(p.rate_rps);
  json::array ra;
  for (double r : rates) ra.emplace_back(r);
  o["rates_rps"] = std::move(ra);
  json::array pa;
  for (const auto& p : points) {
    json::object q;
    q["policy"] = p.policy;
    q["rate_rps"] = p.rate_rps;
    q["seed"] = p.seed;
    q["purpose"] = to_string(p.purpose);
    q["run_dir"] = p.run_dir;
    if (p.slo_met) {
      q["slo_met"] = *p.slo_met;
      json::array v;
      for (const auto& s : p.slo_violations) v.emplace_back(s);
      q["slo_violations"] = std::move(v);
    }
    q["summary"] = json::parse(summary_json(p.summary));
    pa.push_back(std::move(q));
  }
  o["points"] = std::move(pa);
  if (slo) {
    o["slo"] = to_string(*slo);
    o["slo_tolerance"] = slo_tolerance;
    json::array sa;
    for (const auto& r : searches) {
      json::object q;
      q["policy"] = r.policy;
      q["end"] = to_string(r.end);
      q["max_rate_rps"] = r.end == slo_search_end::lowest_fails ? json::value(nullptr) : sweep_opt_rate(r.last_pass_rps);
      q["last_pass_rps"] = sweep_opt_rate(r.last_pass_rps);
      q["first_fail_rps"] = sweep_opt_rate(r.first_fail_rps);
      q["last_pass_run"] = r.last_pass_run;
      q["first_fail_run"] = r.first_fail_run;
      q["runs"] = r.runs;
      if (r.second_seed) {
        json::object s;
        s["seed"] = *r.second_seed;
        if (r.second_seed_last_pass_met) s["last_pass_rate_met"] = *r.second_seed_last_pass_met;
        if (r.second_seed_first_fail_met) s["first_fail_rate_met"] = *r.second_seed_first_fail_met;
        s["agrees"] = *seed_agrees(r);
        q["second_seed"] = std::move(s);
      }
      sa.push_back(std::move(q));
    }
    o["slo_search"] = std::move(sa);
  }
  return json::serialize(o) + "\n";
}

std::string sweep_text(std::span<const sweep_point> points, const std::optional<slo_spec>& slo,
                       std::span<const slo_result> searches) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-10s %-14s %-10s %9s %9s %9s %9s %9s %9s %9s %6s  %s\n", "rate/s", "policy",
                "purpose", "ok/req", "ttft p50", "ttft p99", "tpot p99", "e2e p99", "thr/s", "good/s", "hit", "SLO");
  out += line;
  std::snprintf(line, sizeof line, "%-10s %-14s %-10s %9s %9s %9s %9s %9s %9s %9s %6s\n", "", "", "", "", "ms", "ms",
                "ms", "ms", "req", "req", "");
  out += line;
  for (const auto& p : points) {
    const auto& s = p.summary;
    const std::string okreq = std::to_string(s.ok) + "/" + std::to_string(s.requests);
    std::string verdict = !p.slo_met ? "" : *p.slo_met ? "met" : "broken";
    if (p.slo_met && !*p.slo_met && !p.slo_violations.empty()) verdict += " (" + p.slo_violations.front() + ")";
    if (s.interrupted) verdict += verdict.empty() ? "interrupted" : ", interrupted";
    std::snprintf(line, sizeof line, "%-10s %-14.14s %-10s %9s %9s %9s %9s %9s %9s %9s %6s  %s\n",
                  rate_label(p.rate_rps).c_str(), p.policy.c_str(), std::string(to_string(p.purpose)).c_str(),
                  okreq.c_str(), sweep_cell(s.ttft_p50_s, 1, 1e3).c_str(), sweep_cell(s.ttft_p99_s, 1, 1e3).c_str(),
                  sweep_cell(s.tpot_p99_s, 2, 1e3).c_str(), sweep_cell(s.e2e_p99_s, 1, 1e3).c_str(),
                  sweep_cell(s.request_throughput, 2).c_str(),
                  s.goodput ? sweep_cell(*s.goodput, 2).c_str() : "-", sweep_cell(s.prefix_hit_ratio, 3).c_str(),
                  verdict.c_str());
    out += line;
  }
  if (!slo) return out;
  out += "\nSLO " + to_string(*slo) + ": the highest offered rate each policy sustains\n";
  for (const auto& r : searches) {
    std::string what;
    switch (r.end) {
      case slo_search_end::found:
        what = rate_label(*r.last_pass_rps) + " req/s (last passing " + rate_label(*r.last_pass_rps) + ": " +
               r.last_pass_run + "; first failing " + rate_label(*r.first_fail_rps) + ": " + r.first_fail_run + ")";
        break;
      case slo_search_end::lowest_fails:
        what = "none: the lowest rate, " + rate_label(*r.first_fail_rps) + " req/s, already breaks it (" +
               r.first_fail_run + ")";
        break;
      case slo_search_end::highest_passes:
        what = "not found: the highest rate, " + rate_label(*r.last_pass_rps) + " req/s, still meets it (" +
               r.last_pass_run + "); raise the top of the rate list";
        break;
      case slo_search_end::searching: what = "stopped before the search ended"; break;
    }
    out += "  " + r.policy + ": " + what + ", " + std::to_string(r.runs) + " runs\n";
    if (auto agree = seed_agrees(r)) {
      out += "    seed " + std::to_string(*r.second_seed) + ": ";
      if (*agree) {
        out += "same verdicts at both boundary rates (the answer holds for this seed too)\n";
      } else {
        out += "the boundary moves:";
        if (r.second_seed_last_pass_met && !*r.second_seed_last_pass_met)
          out += " " + rate_label(*r.last_pass_rps) + " req/s breaks the SLO";
        if (r.second_seed_first_fail_met && *r.second_seed_first_fail_met)
          out += std::string(r.second_seed_last_pass_met && !*r.second_seed_last_pass_met ? "," : "") + " " +
                 rate_label(*r.first_fail_rps) + " req/s meets it";
        out += " (the answer is within the seed's noise)\n";
      }
    }
  }
  // How much more load each policy carries than the first at the same SLO.
  const slo_result* base = nullptr;
  for (const auto& r : searches)
    if (r.end == slo_search_end::found) {
      if (!base) {
        base = &r;
        continue;
      }
      char buf[200];
      std::snprintf(buf, sizeof buf, "  %s carries %.2fx the load of %s at this SLO (%s vs %s req/s)\n",
                    r.policy.c_str(), *r.last_pass_rps / *base->last_pass_rps, base->policy.c_str(),
                    rate_label(*r.last_pass_rps).c_str(), rate_label(*base->last_pass_rps).c_str());
      out += buf;
    }
  return out;
}

std::vector<chart> sweep_charts(std::span<const sweep_point> points) {
  const auto names = policies_in_order(points);
  // Per policy, its first-seed points by rate (a search visits rates out of order).
  std::map<std::string, std::vector<const sweep_point*>> by_policy;
  std::optional<std::uint64_t> seed;
  for (const auto& p : points) {
    if (p.purpose == sweep_purpose::seed_check) continue;
    if (!seed) seed = p.seed;
    by_policy[p.policy].push_back(&p);
  }
  for (auto& [n, v] : by_policy)
    std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->rate_rps < b->rate_rps; });
  auto curve = [&](const char* name, const char* title, const char* y,
                   std::initializer_list<std::pair<const char*, double (*)(const run_summary&)>> metrics) {
    chart c{name, title, "offered load (requests/s)", y, {}};
    for (std::size_t k = 0; k < names.size(); ++k) {
      const auto& n = names[k];
      bool second = false;
      for (const auto& [label, get] : metrics) {
        // One colour per policy; its second metric (p99 beside p50) dashed.
        plot_series s{metrics.size() > 1 ? n + " " + label : n, {}, plot_style::linespoints,
                      static_cast<int>(k), second};
        second = true;
        for (const auto* p : by_policy[n]) s.points.emplace_back(p->rate_rps, get(p->summary));
        c.series.push_back(std::move(s));
      }
    }
    return c;
  };
  std::vector<chart> out;
  out.push_back(curve("sweep_ttft", "Time to first token against offered load (client-side)", "ms",
                      {{"p50", [](const run_summary& s) { return s.ttft_p50_s * 1e3; }},
                       {"p99", [](const run_summary& s) { return s.ttft_p99_s * 1e3; }}}));
  out.push_back(curve("sweep_tpot_p99", "TPOT p99 against offered load (client-side)", "ms",
                      {{"p99", [](const run_summary& s) { return s.tpot_p99_s * 1e3; }}}));
  out.push_back(curve("sweep_e2e_p99", "End-to-end latency p99 against offered load (client-side)", "ms",
                      {{"p99", [](const run_summary& s) { return s.e2e_p99_s * 1e3; }}}));
  auto thr = curve("sweep_throughput", "Achieved against offered load", "completed requests/s",
                   {{"achieved", [](const run_summary& s) { return s.request_throughput; }}});
  if (!by_policy.empty()) {
    double lo = INFINITY, hi = 0;
    for (const auto& [n, v] : by_policy)
      for (const auto* p : v) lo = std::min(lo, p->rate_rps), hi = std::max(hi, p->rate_rps);
    thr.series.push_back(
        plot_series{"offered", {{lo, lo}, {hi, hi}}, plot_style::lines, static_cast<int>(names.size()), true});
  }
  out.push_back(std::move(thr));
  bool any_goodput = false;
  for (const auto& p : points) any_goodput |= p.summary.goodput.has_value();
  if (any_goodput)
    out.push_back(curve("sweep_goodput", "Goodput against offered load", "good requests/s",
                        {{"goodput", [](const run_summary& s) { return s.goodput.value_or(missing); }}}));
  out.push_back(curve("sweep_hit_ratio", "Prefix cache hit ratio against offered load (server /metrics)",
                      "Δhits/Δqueries", {{"hit ratio", [](const run_summary& s) { return s.prefix_hit_ratio; }}}));
  return out;
}

}  // namespace planetserve::experiment
