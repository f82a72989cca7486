// SPDX-License-Identifier: MIT
// sweep_runner: the thin async driver of a load sweep and an SLO search, one experiment::runner per point.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/experiment/html_report.hpp>
#include <planetserve/experiment/run_config.hpp>
#include <planetserve/experiment/slo.hpp>
#include <planetserve/experiment/sweep.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <ostream>
#include <span>
#include <string>
#include <vector>

namespace planetserve::experiment {

/// Runs the points of a sweep or an SLO search, each as one runner with one policy at one
/// rate on the same prompts, the servers' prefix caches reset before every point but the
/// first (POST /reset_prefix_cache). Each point's run writes its usual folders under
/// `<dir>/<policy>/rate_<R>[_seed<S>]/`.
class sweep_runner {
 public:
  /// A driver for `base` (endpoints, dataset and every other setting; `policies`,
  /// `average_interval_s`, `seed` and `output_dir` are set per point) writing under `dir`.
  sweep_runner(boost::asio::any_io_executor ex, run_config base, std::filesystem::path dir, std::ostream& log);

  /// Runs one point; its summary and folder are appended to points(). Fails when the run
  /// could not start or its outputs could not be written (diag says why).
  boost::asio::awaitable<boost::system::error_code> async_run_point(const std::string& policy, double rate_rps,
                                                                    std::uint64_t seed, sweep_purpose purpose,
                                                                    diagnostics& diag);

  /// Every rate in `rates_rps` for every policy of the base configuration, rate by rate.
  boost::asio::awaitable<boost::system::error_code> async_sweep(std::span<const double> rates_rps,
                                                                diagnostics& diag);

  /// For each policy, the highest rate in [lowest, highest] whose run meets `slo` (see
  /// slo_search), then the boundary rates again with seed + 1; the outcome per policy goes to
  /// searches(). Points already run (by async_sweep) with the same policy, rate and seed are
  /// reused, not run again.
  boost::asio::awaitable<boost::system::error_code> async_slo_search(const slo_spec& slo, double lowest_rps,
                                                                     double highest_rps, double tolerance,
                                                                     diagnostics& diag);

  /// The emulator profile the nodes run, shown in every report.html (empty: real servers).
  void set_emulator_facts(report_facts facts) { emulator_ = std::move(facts); }

  /// Stops the point running now (as Ctrl-C stops a run) and runs no more.
  void request_stop();
  /// Whether request_stop() was called.
  bool stop_requested() const noexcept { return stop_; }

  /// Every point run so far, in run order.
  const std::vector<sweep_point>& points() const noexcept { return points_; }
  /// Each policy's SLO search result (after async_slo_search).
  const std::vector<slo_result>& searches() const noexcept { return searches_; }

 private:
  boost::asio::awaitable<void> async_reset_caches();
  const sweep_point* find_point(const std::string& policy, double rate, std::uint64_t seed) const;
  boost::asio::awaitable<boost::system::error_code> async_verdict(const std::string& policy, double rate,
                                                                  std::uint64_t seed, sweep_purpose purpose,
                                                                  const slo_spec& slo, bool& met, std::string& run,
                                                                  diagnostics& diag);

  boost::asio::any_io_executor ex_;
  run_config base_;
  std::filesystem::path dir_;
  std::ostream& log_;
  std::vector<sweep_point> points_;
  std::vector<slo_result> searches_;
  report_facts emulator_;
  class runner* current_ = nullptr;
  bool stop_ = false;
  bool reset_warned_ = false;
};

/// Writes sweep.json, sweep.txt, the curves (sweep_charts; rendered when `render` and gnuplot is
/// installed) and report.html (configuration from the first point's run.json, and `emulator`)
/// into `dir`. Every file is attempted; the error names those not written.
boost::system::error_code write_sweep_outputs(const std::filesystem::path& dir, std::string_view dataset,
                                              std::span<const sweep_point> points,
                                              const std::optional<slo_spec>& slo, double slo_tolerance,
                                              std::span<const slo_result> searches, bool render,
                                              const report_facts& emulator, std::ostream& log,
                                              diagnostics& diag);

}  // namespace planetserve::experiment
