// SPDX-License-Identifier: MIT
// dispatch::live_load: a node's load as its /metrics page last showed it.
#pragma once

#include <optional>

namespace planetserve::dispatch {

/// One scrape of a node's load (vllm:num_requests_running, _waiting, kv_cache_usage_perc).
struct live_load {
  double running = 0;                     ///< requests the engine is running
  double waiting = 0;                     ///< requests queued in the engine
  std::optional<double> kv_cache_usage;   ///< 0..1, when the page has it
};

}  // namespace planetserve::dispatch
