// SPDX-License-Identifier: MIT
// dispatch::fleet_view: the caller's context for one decision.
#pragma once

#include <chrono>

namespace planetserve::dispatch {

/// Context the caller passes with each decision. Per-node state (availability, in-flight
/// counts, scraped load) reaches the policy through its hooks and lives in the policy, so
/// this stays small; a policy that weighs stale load data reads the time here (sans-io: the
/// caller owns the clock).
struct fleet_view {
  std::chrono::nanoseconds now{};  ///< time since the run started, on the caller's clock
};

}  // namespace planetserve::dispatch
