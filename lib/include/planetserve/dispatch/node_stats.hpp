// SPDX-License-Identifier: MIT
// dispatch::node_stats: what every policy knows about one node, kept up to date by its hooks.
#pragma once

#include <planetserve/dispatch/live_load.hpp>

#include <cstdint>

namespace planetserve::dispatch {

/// Per-node state maintained by policy's hooks, readable by every policy.
struct node_stats {
  bool available = true;                    ///< false: never chosen
  std::uint32_t in_flight = 0;              ///< dispatched, not yet finished
  std::uint64_t dispatched = 0;             ///< requests sent to it since reset()
  std::uint64_t finished = 0;               ///< requests that ended, ok or not
  std::uint64_t failed = 0;                 ///< requests that ended in failure
  bool has_live = false;                    ///< whether `live` holds a scrape
  live_load live{};                         ///< last scraped load
  std::uint32_t dispatched_since_load = 0;  ///< dispatches since `live` was scraped
};

}  // namespace planetserve::dispatch
