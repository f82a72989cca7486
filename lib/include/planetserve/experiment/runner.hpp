// SPDX-License-Identifier: MIT
// experiment::runner: the pipeline of `pswm run`: preflight, schedule, route, stream, monitor, report.
#pragma once

#include <planetserve/dispatch/policy.hpp>
#include <planetserve/error.hpp>
#include <planetserve/experiment/node_timeline.hpp>
#include <planetserve/experiment/output_layout.hpp>
#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/request_record.hpp>
#include <planetserve/experiment/run_config.hpp>
#include <planetserve/experiment/summary.hpp>
#include <planetserve/http/client.hpp>
#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/dataset.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace planetserve::experiment {

/// What one policy's run produced.
struct policy_result {
  std::string policy;                   ///< policy name
  output_layout layout;                 ///< where its files went
  std::vector<request_record> records;  ///< every request of every epoch, in send order
  std::vector<node_timeline> timelines; ///< per node, every epoch's scrapes (times offset per epoch)
  run_summary summary;                  ///< the headline numbers
  /// The TTFT CDF of its requests (at most ~2,000 points): what a comparison draws, kept
  /// when the records are not (run_config::keep_records).
  plot_series ttft_cdf;
  /// Each epoch's time zero on the steady clock (CLOCK_MONOTONIC on Linux): a record's `*_s`
  /// times are seconds since its epoch's entry, comparable with other processes' clocks.
  std::vector<std::chrono::steady_clock::time_point> epoch_starts;
};

/// Runs an experiment on one io_context (one thread): call prepare(), then async_preflight(),
/// then async_run(). Messages and progress go to `log`. request_stop() (Ctrl-C) stops
/// sending, gives in-flight requests the drain timeout, then writes everything measured.
class runner {
 public:
  /// A runner for `config` on `ex`'s io_context, writing messages and progress to `log` (which must outlive it).
  runner(boost::asio::any_io_executor ex, run_config config, std::ostream& log);
  ~runner();
  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;

  /// Reads the dataset, tokenizes the prompts, builds the request bodies and the schedule.
  boost::system::error_code prepare(diagnostics& diag);

  /// Checks every node's /health, /v1/models (and picks the model when none was given),
  /// reads cache sizes from /metrics, and checks the output folder; on failure `diag` lists
  /// every problem, each naming the node and URL.
  boost::asio::awaitable<boost::system::error_code> async_preflight(diagnostics& diag);

  /// Runs every configured policy in turn and writes its outputs (and the comparison when
  /// there are several). Fails only when outputs cannot be written: before the run (the
  /// folder, run.json), or error::file_unwritable after it, once every summary was printed,
  /// with `diag` naming each file the disk did not take.
  boost::asio::awaitable<boost::system::error_code> async_run(diagnostics& diag);

  /// Stop sending; in-flight requests get the drain timeout; outputs are still written.
  void request_stop();
  /// Hands requests.jsonl's and metrics_timeline.jsonl's buffered lines to the OS (before an
  /// immediate exit).
  void flush_request_log() noexcept;
  /// Whether request_stop() was called.
  bool stop_requested() const noexcept;

  /// Results of the policies run so far.
  const std::vector<policy_result>& results() const noexcept;
  /// The model the run uses (after preflight).
  const std::string& model() const noexcept;
  /// Requests per epoch (after prepare).
  std::size_t request_count() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace planetserve::experiment
