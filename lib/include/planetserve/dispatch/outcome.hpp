// SPDX-License-Identifier: MIT
// dispatch::outcome: how a dispatched request ended, as fed back to the policy.
#pragma once

#include <chrono>
#include <cstdint>

namespace planetserve::dispatch {

/// The end of a request, reported to the node's policy.
struct outcome {
  std::chrono::nanoseconds e2e{};      ///< send -> last byte
  std::uint32_t prompt_tokens = 0;     ///< from the server's usage, chat template included (0 if unknown)
  std::uint32_t completion_tokens = 0; ///< from the server's usage (0 if unknown)
  bool ok = true;                      ///< false: the request failed (error, timeout, bad status)
  std::uint64_t request_id = 0;        ///< the request_view::id the request was chosen and dispatched with
  std::uint32_t routed_tokens = 0;     ///< tokens of the prompt the policy saw (request_view::tokens), whatever the server counted
};

}  // namespace planetserve::dispatch
