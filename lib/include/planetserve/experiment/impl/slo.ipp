// SPDX-License-Identifier: MIT
// Compiled body of the SLO expression, its check on a run summary, and the rate search.
#pragma once

#include <planetserve/experiment/slo.hpp>

#include <charconv>
#include <cmath>
#include <limits>

namespace planetserve::experiment {

namespace {

constexpr const char* slo_example = "e.g. \"p99_ttft_ms<=500,p99_tpot_ms<=50\"";

struct slo_metric {
  std::string_view name;
  double run_summary::*member;
  double scale;  // to the SLO's unit: seconds -> ms
};

constexpr slo_metric slo_metrics[] = {
    {"mean_ttft_ms", &run_summary::ttft_mean_s, 1e3},   {"p50_ttft_ms", &run_summary::ttft_p50_s, 1e3},
    {"p99_ttft_ms", &run_summary::ttft_p99_s, 1e3},     {"mean_tpot_ms", &run_summary::tpot_mean_s, 1e3},
    {"p99_tpot_ms", &run_summary::tpot_p99_s, 1e3},     {"mean_itl_ms", &run_summary::itl_mean_s, 1e3},
    {"p99_itl_ms", &run_summary::itl_p99_s, 1e3},       {"mean_e2el_ms", &run_summary::e2e_mean_s, 1e3},
    {"p50_e2el_ms", &run_summary::e2e_p50_s, 1e3},      {"p99_e2el_ms", &run_summary::e2e_p99_s, 1e3},
    {"request_throughput", &run_summary::request_throughput, 1.0},
    {"prefix_hit_ratio", &run_summary::prefix_hit_ratio, 1.0},
};

std::string slo_number(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string slo_metric_names() {
  std::string out;
  for (const auto& m : slo_metrics) out += (out.empty() ? "" : ", ") + std::string(m.name);
  return out + ", goodput";
}

double slo_metric_value(const run_summary& s, std::string_view metric) {
  if (metric == "goodput") return s.goodput ? *s.goodput : std::numeric_limits<double>::quiet_NaN();
  for (const auto& m : slo_metrics)
    if (m.name == metric) return s.*m.member * m.scale;
  return std::numeric_limits<double>::quiet_NaN();
}

result<slo_spec> parse_slo(std::string_view text, diagnostics& diag) {
  slo_spec spec;
  auto fail = [&](const std::string& why) {
    diag.message = "slo '" + std::string(text) + "': " + why + "; " + slo_example + " (metrics: " +
                   slo_metric_names() + ")";
    return make_error_code(error::invalid_argument);
  };
  std::size_t i = 0;
  while (i <= text.size()) {
    const std::size_t j = std::min(text.find(',', i), text.size());
    const std::string_view part = trimmed(text.substr(i, j - i));
    i = j + 1;
    if (part.empty()) {
      if (j < text.size()) return fail("an empty part between commas");
      continue;
    }
    const auto le = part.find("<="), ge = part.find(">=");
    if ((le == std::string_view::npos) == (ge == std::string_view::npos))
      return fail("'" + std::string(part) + "' needs exactly one <= or >=");
    const auto op = le != std::string_view::npos ? le : ge;
    slo_constraint c;
    c.metric = std::string(trimmed(part.substr(0, op)));
    c.at_most = le != std::string_view::npos;
    bool known = c.metric == "goodput";
    for (const auto& m : slo_metrics) known |= m.name == c.metric;
    if (!known) return fail("unknown metric '" + c.metric + "' in '" + std::string(part) + "'");
    const auto value = trimmed(part.substr(op + 2));
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), c.bound);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || !std::isfinite(c.bound))
      return fail("the bound of '" + std::string(part) + "' must be a number");
    for (const auto& prev : spec.constraints)
      if (prev.metric == c.metric && prev.at_most == c.at_most)
        return fail("'" + c.metric + (c.at_most ? "<=" : ">=") + "' is given twice");
    spec.constraints.push_back(std::move(c));
  }
  if (spec.constraints.empty()) return fail("no METRIC<=VALUE part");
  return spec;
}

std::string to_string(const slo_spec& spec) {
  std::string out;
  for (const auto& c : spec.constraints)
    out += (out.empty() ? "" : ",") + c.metric + (c.at_most ? "<=" : ">=") + slo_number(c.bound);
  return out;
}

std::vector<std::string> slo_violations(const run_summary& s, const slo_spec& spec) {
  std::vector<std::string> out;
  if (s.ok == 0) out.push_back("no request completed");
  for (const auto& c : spec.constraints) {
    const double v = slo_metric_value(s, c.metric);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    if (std::isnan(v))
      out.push_back(c.metric + " has no value");
    else if (c.at_most ? !(v <= c.bound) : !(v >= c.bound))
      out.push_back(c.metric + " " + buf + (c.at_most ? " > " : " < ") + slo_number(c.bound));
  }
  return out;
}

slo_search::slo_search(double lowest_rps, double highest_rps, double tolerance)
    : lowest_(lowest_rps), highest_(std::max(lowest_rps, highest_rps)), tolerance_(tolerance) {
  if (!(lowest_rps > 0) || !std::isfinite(highest_) || !(tolerance > 0))
    throw std::invalid_argument("slo_search: rates and tolerance must be positive and finite");
}

std::optional<double> slo_search::next_rate() const {
  if (end_ != slo_search_end::searching) return std::nullopt;
  if (!pass_ && !fail_) return lowest_;
  if (!fail_) return std::min(*pass_ * 2, highest_);
  return (*pass_ + *fail_) / 2;
}

void slo_search::record(bool passed) {
  const auto r = next_rate();
  if (!r) throw std::logic_error("slo_search::record after the search ended");
  ++runs_;
  if (passed) pass_ = *r;
  else fail_ = *r;
  update_end();
}

void slo_search::update_end() {
  if (fail_ && !pass_) end_ = slo_search_end::lowest_fails;
  else if (pass_ && !fail_ && *pass_ >= highest_) end_ = slo_search_end::highest_passes;
  else if (pass_ && fail_ && *fail_ - *pass_ <= tolerance_ * *pass_) end_ = slo_search_end::found;
}

std::string_view to_string(slo_search_end e) noexcept {
  switch (e) {
    case slo_search_end::found: return "found";
    case slo_search_end::lowest_fails: return "lowest_fails";
    case slo_search_end::highest_passes: return "highest_passes";
    case slo_search_end::searching: break;
  }
  return "searching";
}

}  // namespace planetserve::experiment
