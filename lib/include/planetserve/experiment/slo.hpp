// SPDX-License-Identifier: MIT
// slo_spec and slo_search: latency targets for a whole run, and the sans-io search for the highest rate meeting them.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/experiment/summary.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::experiment {

/// One target on a run's summary: `metric` (e.g. "p99_ttft_ms") compared with `bound`.
struct slo_constraint {
  std::string metric;      ///< one of slo_metric_names()
  bool at_most = true;     ///< `<=` (true) or `>=` (false)
  double bound = 0;        ///< in the metric's unit (ms for latencies, req/s for goodput)
};

/// Every target a run must meet, as given on the command line.
struct slo_spec {
  std::vector<slo_constraint> constraints;  ///< all must hold
};

/// The metric names an SLO may name, comma-separated (for messages and --help).
std::string slo_metric_names();

/// The value of `metric` in `s` (latencies in ms), or NaN when the run has no such value
/// (e.g. no request completed) or the name is unknown.
double slo_metric_value(const run_summary& s, std::string_view metric);

/// Reads "p99_ttft_ms<=500,p99_tpot_ms<=50": comma-separated METRIC<=NUMBER (or >=).
/// Fails with invalid_argument, naming the part and what is wrong in `diag`, for an unknown
/// metric, a missing or doubled operator, a value that is not a finite number, or no part.
result<slo_spec> parse_slo(std::string_view text, diagnostics& diag);

/// The canonical text parse_slo reads back.
std::string to_string(const slo_spec& spec);

/// Checks a run: every constraint that failed, as "p99_ttft_ms 812.3 > 500" (a metric the
/// run has no value for fails too). Empty: the run meets the SLO. A run whose every request
/// failed never meets it.
std::vector<std::string> slo_violations(const run_summary& s, const slo_spec& spec);

/// How an SLO search ended.
enum class slo_search_end {
  searching,       ///< not finished: run next_rate()
  found,           ///< the highest passing rate is known to within the tolerance
  lowest_fails,    ///< the lowest rate already fails: no passing rate in the range
  highest_passes,  ///< the highest rate still passes: the bound was not found
};

/// What an SLO search is for one policy: the sans-io part. It proposes a rate, is told
/// whether the run at that rate met the SLO, and proposes the next: first the lowest rate,
/// then doubling until a run fails (capped at the highest rate), then bisecting between the
/// last passing and the first failing rate until they are within the tolerance.
class slo_search {
 public:
  /// A search from `lowest_rps` up to at most `highest_rps` (>= lowest), stopping when
  /// (first failing − last passing) <= tolerance × last passing (tolerance > 0). Throws
  /// std::invalid_argument for rates or a tolerance that are not positive and finite.
  slo_search(double lowest_rps, double highest_rps, double tolerance);

  /// The rate to run next, or nullopt when the search has ended.
  std::optional<double> next_rate() const;
  /// Records the verdict of the run at next_rate().
  void record(bool passed);

  /// How the search stands.
  slo_search_end end() const noexcept { return end_; }
  /// The highest rate that passed so far.
  std::optional<double> last_pass() const noexcept { return pass_; }
  /// The lowest rate that failed so far.
  std::optional<double> first_fail() const noexcept { return fail_; }
  /// Runs recorded so far.
  std::size_t runs() const noexcept { return runs_; }

 private:
  void update_end();
  double lowest_, highest_, tolerance_;
  std::optional<double> pass_, fail_;
  std::size_t runs_ = 0;
  slo_search_end end_ = slo_search_end::searching;
};

/// "found", "lowest_fails", "highest_passes" or "searching".
std::string_view to_string(slo_search_end e) noexcept;

}  // namespace planetserve::experiment
