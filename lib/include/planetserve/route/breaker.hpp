// SPDX-License-Identifier: MIT
// route::breaker: one node's circuit breaker (closed, open, half-open), sans-io.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace planetserve::route {

/// Where a node's breaker stands.
enum class breaker_state : std::uint8_t {
  closed,     ///< requests go to the node
  open,       ///< no requests: the node failed; its /health is probed until it answers 200
  half_open,  ///< /health answered again: requests go to it, and the next failure opens it at once
};

/// The state's name ("closed", "open", "half-open").
std::string_view to_string(breaker_state s) noexcept;

/// A per-node circuit breaker: `failures_to_open` consecutive connection failures (or one
/// failed active health check) open it; a /health probe that answers 200 half-opens it; the
/// next request decides: a success closes it, a failure opens it again.
class breaker {
 public:
  /// A closed breaker that opens after `failures_to_open` consecutive failures (0: never by count).
  explicit breaker(std::size_t failures_to_open = 3) noexcept : threshold_(failures_to_open) {}

  /// The current state.
  breaker_state state() const noexcept { return state_; }
  /// Whether requests may go to the node (closed or half-open).
  bool allows() const noexcept { return state_ != breaker_state::open; }
  /// Connection failures since the last success.
  std::size_t consecutive_failures() const noexcept { return failures_; }

  /// A request got a response: closes the breaker.
  void on_success() noexcept;
  /// A request's connection failed. Returns true when this opened the breaker.
  bool on_failure() noexcept;
  /// An active health check failed: opens the breaker. Returns true when it was not open.
  bool on_health_failure() noexcept;
  /// An active health check answered 200: an open breaker becomes half-open. Returns true
  /// when it was open.
  bool on_health_success() noexcept;

 private:
  std::size_t threshold_;
  std::size_t failures_ = 0;
  breaker_state state_ = breaker_state::closed;
};

}  // namespace planetserve::route
