// SPDX-License-Identifier: MIT
// dispatch::replay: routes a recorded request sequence through a policy offline, with no servers.
#pragma once

#include <planetserve/dispatch/policy.hpp>

#include <chrono>
#include <cstddef>
#include <span>
#include <vector>

namespace planetserve::dispatch {

/// One request of a replay.
struct replay_request {
  std::span<const tokenize::token_id> tokens;  ///< the prompt; must outlive the replay
  std::chrono::nanoseconds e2e{};              ///< its latency, reported when it completes
};

/// What the policy decided for one request.
struct replay_choice {
  node_index node = no_node;  ///< chosen node
  rule fired = rule::none_available;  ///< why
  std::string_view custom_rule;       ///< a user policy's name for its rule (see decision::custom_rule)
};

/// Dispatches `requests` in order through `p` (choose, then on_dispatched). Request j
/// completes (on_finished, ok, with its e2e) just before request j + completion_lag is
/// decided; with completion_lag 0, before the next one. Requests still open at the end
/// complete after the last decision. Decisions only: no clock, no sockets.
std::vector<replay_choice> replay(policy& p, std::span<const replay_request> requests, std::size_t completion_lag);

}  // namespace planetserve::dispatch
