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
  auto wrong = [&](std::string where, std::string_view what) {
    diag.message = std::move(where) + ": " + std::string(what);
    return make_error_code(error::wrong_field_type);
  };

  seed_summary s;
  std::vector<double> lat, arrivals, tpot_means, ttft_means, hit_means;
  const auto& reqs = exp.get_array();
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const std::string where = "experiment_results.json[" + std::to_string(i) + "]";
    if (!reqs[i].is_object()) return wrong(where, "not an object (the seed reads r['generation_time'])");
    const auto& r = reqs[i].get_object();
    for (const char* key : {"generation_time", "absolute_start"}) {
      auto* v = r.if_contains(key);
      if (!v || !v->is_number()) return wrong(where + "." + key, "missing or not a number");
    }
    lat.push_back(r.at("generation_time").to_number<double>());
    arrivals.push_back(r.at("absolute_start").to_number<double>());
    // `np.mean([v for (_, v) in recs])`: each element must unpack into exactly two numbers.
    struct series {
      const char* key;
      std::vector<double>* means;
    };
    for (const series& f : {series{"time_per_output_token_records", &tpot_means},
                            series{"time_to_first_token_records", &ttft_means},
                            series{"prefix_usage_records", &hit_means}, series{"usage_records", nullptr}}) {
      auto* v = r.if_contains(f.key);
      if (!v || v->is_null()) continue;  // r.get(key, []) / falsy: skipped by the seed
      if (!v->is_array()) return wrong(where + "." + f.key, "not a list of [elapsed, value] pairs");
      std::vector<double> values;
      for (std::size_t k = 0; k < v->get_array().size(); ++k) {
        const auto& p = v->get_array()[k];
        if (!p.is_array() || p.get_array().size() != 2 || !p.get_array()[0].is_number() || !p.get_array()[1].is_number())
          return wrong(where + "." + f.key + "[" + std::to_string(k) + "]",
                       "not an [elapsed, value] pair of numbers (the seed unpacks `for (_, v) in recs`)");
        values.push_back(p.get_array()[1].to_number<double>());
      }
      if (f.means && !values.empty()) f.means->push_back(mean_of(values));
    }
  }
  s.requests = reqs.size();
  s.avg_latency_s = lat.empty() ? 0.0 : mean_of(lat);
  s.p99_latency_s = lat.empty() ? 0.0 : percentile_linear(lat, 99);
  // `x[0] if x and x[0] else 0.0`: NaN (no request had records) stays NaN, as in the seed.
  s.tpot_s = mean_of(tpot_means);
  s.ttft_s = mean_of(ttft_means);
  s.prefix_hit_rate = hit_means.empty() ? 0.0 : mean_of(hit_means);
  std::sort(arrivals.begin(), arrivals.end());
  std::vector<double> gaps;
  for (std::size_t i = 1; i < arrivals.size(); ++i) gaps.push_back(arrivals[i] - arrivals[i - 1]);
  s.inter_arrival_s = gaps.empty() ? 0.0 : mean_of(gaps);

  const auto& rows = thr.get_array();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string where = "throughput_records.json[" + std::to_string(i) + "]";
    if (!rows[i].is_object()) return wrong(where, "not an object (the seed reads e['elapsed'])");
    for (const char* key : {"elapsed", "prompt_tokens", "gen_tokens", "request_success"}) {
      auto* v = rows[i].get_object().if_contains(key);
      if (!v || !v->is_number()) return wrong(where + "." + key, "missing or not a number");
    }
  }
  s.token_throughput = s.request_throughput = 0.0;
  if (rows.size() >= 2) {
    auto get = [&](std::size_t i, const char* k) { return rows[i].get_object().at(k).to_number<double>(); };
    const std::size_t a = 0, b = rows.size() - 1;
    const double dt = get(b, "elapsed") - get(a, "elapsed");
    if (dt > 0) {
      s.token_throughput = ((get(b, "prompt_tokens") + get(b, "gen_tokens")) -
                            (get(a, "prompt_tokens") + get(a, "gen_tokens"))) / dt;
      s.request_throughput = (get(b, "request_success") - get(a, "request_success")) / dt;
    }
  }
  s.computed = true;
  return s;
}

}  // namespace planetserve::experiment
