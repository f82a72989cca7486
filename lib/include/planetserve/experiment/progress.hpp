// SPDX-License-Identifier: MIT
// experiment::progress_report: a run's progress as data; the caller decides how to show it.
#pragma once

#include <planetserve/experiment/request_record.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace planetserve::experiment {

/// Counts for a progress line.
struct epoch_progress {
  std::size_t total = 0;      ///< requests in the epoch
  std::size_t sent = 0;       ///< routed (sent, queued at a node, or found no node)
  std::size_t completed = 0;  ///< ended ok
  std::size_t failed = 0;     ///< ended failed (no node, interrupted, errors)
  std::size_t in_flight = 0;  ///< routed and not ended
};

/// Where an epoch stands, handed to run_config::on_progress about once a second (of wall
/// time) and once when the epoch ends.
struct progress_report {
  std::string_view policy;       ///< the policy being run
  std::size_t epoch = 0;         ///< 0-based
  epoch_progress counts;         ///< sent, done, failed, in flight
  double rate_per_s = 0;         ///< requests routed per wall-clock second since the last report
  double p50_ttft_s = missing;   ///< median TTFT of the requests done so far (NaN: none yet)
  bool virtual_time = false;     ///< the run's clock is virtual (times are simulated seconds)
  bool final = false;            ///< the epoch is over: the last report for it
};

/// One plain line: "[lb epoch 1] sent 40/100  done 38  failed 0  rate 9.8/s  in flight 2  p50 TTFT 81 ms".
std::string progress_text(const progress_report& r);

}  // namespace planetserve::experiment
