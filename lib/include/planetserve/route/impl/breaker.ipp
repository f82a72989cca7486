// SPDX-License-Identifier: MIT
// Compiled body of route::breaker.
#pragma once

#include <planetserve/route/breaker.hpp>

namespace planetserve::route {

std::string_view to_string(breaker_state s) noexcept {
  switch (s) {
    case breaker_state::closed: return "closed";
    case breaker_state::open: return "open";
    case breaker_state::half_open: return "half-open";
  }
  return "unknown";
}

void breaker::on_success() noexcept {
  failures_ = 0;
  state_ = breaker_state::closed;
}

bool breaker::on_failure() noexcept {
  ++failures_;
  if (state_ == breaker_state::open) return false;
  if (state_ == breaker_state::half_open || (threshold_ > 0 && failures_ >= threshold_)) {
    state_ = breaker_state::open;
    return true;
  }
  return false;
}

bool breaker::on_health_failure() noexcept {
  if (state_ == breaker_state::open) return false;
  state_ = breaker_state::open;
  return true;
}

bool breaker::on_health_success() noexcept {
  if (state_ != breaker_state::open) return false;
  state_ = breaker_state::half_open;
  return true;
}

}  // namespace planetserve::route
