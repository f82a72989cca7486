// SPDX-License-Identifier: MIT
// seed_summary: the seed's summarize_results numbers, read off experiment_results.json and throughput_records.json as the seed reads them.
#pragma once

#include <planetserve/error.hpp>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <limits>
#include <string_view>
#include <vector>

namespace planetserve::experiment {

/// The numbers of the seed's summary, defined as its summarize_results computes them.
/// NaN where the seed would print nan (no request had the records) or nothing was read.
struct seed_summary {
  bool computed = false;  ///< whether the files were read
  std::size_t requests = 0;  ///< objects in experiment_results.json
  double avg_latency_s = std::numeric_limits<double>::quiet_NaN();  ///< mean generation_time (client-side e2e)
  double p99_latency_s = std::numeric_limits<double>::quiet_NaN();  ///< numpy's linear 99th percentile of generation_time
  double tpot_s = std::numeric_limits<double>::quiet_NaN();  ///< mean over requests of the mean of their time_per_output_token_records values (server cumulative averages)
  double ttft_s = std::numeric_limits<double>::quiet_NaN();  ///< likewise time_to_first_token_records
  double token_throughput = std::numeric_limits<double>::quiet_NaN();  ///< Δ(prompt + generation tokens)/Δt between the first and last throughput record (server counters)
  double request_throughput = std::numeric_limits<double>::quiet_NaN();  ///< Δrequest_success/Δt likewise
  double prefix_hit_rate = std::numeric_limits<double>::quiet_NaN();  ///< mean over requests of the mean of their prefix_usage_records values (server cumulative ratios)
  double inter_arrival_s = std::numeric_limits<double>::quiet_NaN();  ///< mean gap between sorted absolute_start values
};

/// Reads the two files' texts exactly as the seed's summarize_results and plot functions
/// unpack them, and computes its numbers. Every shape the seed relies on is checked: a
/// top-level array of objects; numeric generation_time and absolute_start; every *_records
/// element a pair [elapsed, value] of numbers; every throughput record an object with
/// numeric elapsed, prompt_tokens, gen_tokens and request_success. What would make the
/// seed's Python fail is an error here (invalid_json or wrong_field_type), naming the file,
/// the request and the field.
result<seed_summary> summarize_seed_files(std::string_view experiment_results_json,
                                          std::string_view throughput_records_json, diagnostics& diag);

/// summarize_seed_files one request at a time, for files too large to hold as text and parse
/// again (a million requests): give it each element of experiment_results.json as it is
/// written, then the throughput records, then take the summary. The same checks and the same
/// numbers as summarize_seed_files, which is built on it.
class seed_summary_builder {
 public:
  /// Element `index` of experiment_results.json. An error (wrong_field_type, naming the
  /// element and field) means the seed could not have read the file.
  boost::system::error_code add_request(const boost::json::value& request, std::size_t index, diagnostics& diag);
  /// throughput_records.json's rows; an error names the row and field.
  boost::system::error_code set_throughput(const boost::json::array& rows, diagnostics& diag);
  /// The seed's numbers over what was given.
  seed_summary finish() const;

 private:
  std::size_t requests_ = 0;
  std::vector<double> latencies_, arrivals_, tpot_means_, ttft_means_, hit_means_;
  double token_throughput_ = 0, request_throughput_ = 0;
};

}  // namespace planetserve::experiment
