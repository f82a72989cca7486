// SPDX-License-Identifier: MIT
// The KV-events flags shared by `pswm run` and `pswm route`: where each node publishes its KV-cache events.
#pragma once

#include "cli.hpp"

#include <planetserve/experiment/kv_event_subscriber.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace pswm {

/// --kv-events-endpoints and --kv-events-replay-endpoints.
struct kv_events_flags {
  std::string endpoints;         ///< --kv-events-endpoints (comma list, one per node)
  std::string replay_endpoints;  ///< --kv-events-replay-endpoints (comma list, one per node, or none)

  /// Adds both flags; `sim_note` says that `--sim` sets them itself (pswm run).
  void add_options(cli::po::options_description& opts, bool sim_note);
  /// One source per node, in node order; none when no flag was given. Throws a usage error
  /// naming the flag when the counts do not match `nodes`, or replays come without endpoints.
  std::vector<planetserve::experiment::kv_events_source> sources(std::size_t nodes) const;
};

}  // namespace pswm
