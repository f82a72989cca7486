// SPDX-License-Identifier: MIT
// Compiled body of summarize_seed_files.
#pragma once

#include <planetserve/experiment/seed_summary.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace planetserve::experiment {

namespace {

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// numpy.percentile's default: linear interpolation between the two nearest ranks.
double percentile_linear(std::vector<double> v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

result<seed_summary> summarize_seed_files(std::string_view experiment_results_json,
                                          std::string_view throughput_records_json, diagnostics& diag) {
  namespace json = boost::json;
  auto parse_array = [&](std::string_view text, const char* file, json::value& out) -> boost::system::error_code {
    boost::system::error_code ec;
    out = json::parse(text, ec);
    if (ec || !out.is_array()) {
      diag.message = std::string(file) + ": expected a JSON array" + (ec ? " (" + ec.message() + ")" : std::string());
      return make_error_code(error::invalid_json);
    }
    return {};
  };
  json::value exp, thr;
  if (auto ec = parse_array(experiment_results_json, "experiment_results.json", exp)) return ec;
  if (auto ec = parse_array(throughput_records_json, "throughput_records.json", thr)) return ec;
  seed_summary_builder b;
  const auto& reqs = exp.get_array();
  for (std::size_t i = 0; i < reqs.size(); ++i)
    if (auto ec = b.add_request(reqs[i], i, diag)) return ec;
  if (auto ec = b.set_throughput(thr.get_array(), diag)) return ec;
  return b.finish();
}

namespace {
boost::system::error_code wrong_field(diagnostics& diag, std::string where, std::string_view what) {
  diag.message = std::move(where) + ": " + std::string(what);
  return make_error_code(error::wrong_field_type);
}
}  // namespace

boost::system::error_code seed_summary_builder::add_request(const boost::json::value& request, std::size_t index,
                                                            diagnostics& diag) {
  const std::string where = "experiment_results.json[" + std::to_string(index) + "]";
  if (!request.is_object()) return wrong_field(diag, where, "not an object (the seed reads r['generation_time'])");
  const auto& r = request.get_object();
  for (const char* key : {"generation_time", "absolute_start"}) {
    auto* v = r.if_contains(key);
    if (!v || !v->is_number()) return wrong_field(diag, where + "." + key, "missing or not a number");
  }
  // `np.mean([v for (_, v) in recs])`: each element must unpack into exactly two numbers.
  // Checked before anything is kept, so a refused request leaves the summary as it was.
  struct series {
    const char* key;
    std::vector<double>* means;
  };
  double means[3];
  bool has_mean[3] = {false, false, false};
  int at = 0;
  for (const series& f : {series{"time_per_output_token_records", &tpot_means_},
                          series{"time_to_first_token_records", &ttft_means_},
                          series{"prefix_usage_records", &hit_means_}, series{"usage_records", nullptr}}) {
    const int slot = at++;
    auto* v = r.if_contains(f.key);
    if (!v || v->is_null()) continue;  // r.get(key, []) / falsy: skipped by the seed
    if (!v->is_array()) return wrong_field(diag, where + "." + f.key, "not a list of [elapsed, value] pairs");
    const auto& a = v->get_array();
    double sum = 0;
    for (std::size_t k = 0; k < a.size(); ++k) {
      const auto& p = a[k];
      if (!p.is_array() || p.get_array().size() != 2 || !p.get_array()[0].is_number() || !p.get_array()[1].is_number())
        return wrong_field(diag, where + "." + f.key + "[" + std::to_string(k) + "]",
                           "not an [elapsed, value] pair of numbers (the seed unpacks `for (_, v) in recs`)");
      sum += p.get_array()[1].to_number<double>();
    }
    if (f.means && !a.empty()) {
      means[slot] = sum / static_cast<double>(a.size());
      has_mean[slot] = true;
    }
  }
  latencies_.push_back(r.at("generation_time").to_number<double>());
  arrivals_.push_back(r.at("absolute_start").to_number<double>());
  std::vector<double>* targets[3] = {&tpot_means_, &ttft_means_, &hit_means_};
  for (int k = 0; k < 3; ++k)
    if (has_mean[k]) targets[k]->push_back(means[k]);
  ++requests_;
  return {};
}

boost::system::error_code seed_summary_builder::set_throughput(const boost::json::array& rows, diagnostics& diag) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string where = "throughput_records.json[" + std::to_string(i) + "]";
    if (!rows[i].is_object()) return wrong_field(diag, where, "not an object (the seed reads e['elapsed'])");
    for (const char* key : {"elapsed", "prompt_tokens", "gen_tokens", "request_success"}) {
      auto* v = rows[i].get_object().if_contains(key);
      if (!v || !v->is_number()) return wrong_field(diag, where + "." + key, "missing or not a number");
    }
  }
  token_throughput_ = request_throughput_ = 0.0;
  if (rows.size() >= 2) {
    auto get = [&](std::size_t i, const char* k) { return rows[i].get_object().at(k).to_number<double>(); };
    const std::size_t a = 0, b = rows.size() - 1;
    const double dt = get(b, "elapsed") - get(a, "elapsed");
    if (dt > 0) {
      token_throughput_ = ((get(b, "prompt_tokens") + get(b, "gen_tokens")) -
                           (get(a, "prompt_tokens") + get(a, "gen_tokens"))) / dt;
      request_throughput_ = (get(b, "request_success") - get(a, "request_success")) / dt;
    }
  }
  return {};
}

seed_summary seed_summary_builder::finish() const {
  seed_summary s;
  s.requests = requests_;
  s.avg_latency_s = latencies_.empty() ? 0.0 : mean_of(latencies_);
  s.p99_latency_s = latencies_.empty() ? 0.0 : percentile_linear(latencies_, 99);
  // `x[0] if x and x[0] else 0.0`: NaN (no request had records) stays NaN, as in the seed.
  s.tpot_s = mean_of(tpot_means_);
  s.ttft_s = mean_of(ttft_means_);
  s.prefix_hit_rate = hit_means_.empty() ? 0.0 : mean_of(hit_means_);
  std::vector<double> arrivals = arrivals_;
  std::sort(arrivals.begin(), arrivals.end());
  double gaps = 0;
  for (std::size_t i = 1; i < arrivals.size(); ++i) gaps += arrivals[i] - arrivals[i - 1];
  s.inter_arrival_s = arrivals.size() < 2 ? 0.0 : gaps / static_cast<double>(arrivals.size() - 1);
  s.token_throughput = token_throughput_;
  s.request_throughput = request_throughput_;
  s.computed = true;
  return s;
}

}  // namespace planetserve::experiment
