// SPDX-License-Identifier: MIT
// dispatch::outcome: how a dispatched request ended, as fed back to the policy.
#pragma once

#include <chrono>
#include <cstdint>

namespace planetserve::dispatch {

/// The end of a request, reported to the node's policy.
struct outcome {
  std::chrono::nanoseconds e2e{};      ///< send -> last byte
  std::uint32_t prompt_tokens = 0;     ///< from the server's usage (0 if unknown)
  std::uint32_t completion_tokens = 0; ///< from the server's usage (0 if unknown)
  bool ok = true;                      ///< false: the request failed (error, timeout, bad status)
};

}  // namespace planetserve::dispatch
