// SPDX-License-Identifier: MIT
// Compiled body of the http failure rules.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/http/failure.hpp>

#include <algorithm>

namespace planetserve::http {

bool node_unreachable(unsigned status, boost::system::error_code ec) noexcept {
  return status == 0 && (ec == error::connection_failed || ec == error::connection_closed ||
                         ec == error::timeout || ec == error::tls_failed);
}

bool retryable_failure(unsigned status, boost::system::error_code ec, bool response_started) noexcept {
  return status == 0 && !response_started && (ec == error::connection_failed || ec == error::connection_closed);
}

std::chrono::steady_clock::duration retry_delay(std::chrono::duration<double> base, unsigned retry) noexcept {
  const unsigned doublings = std::min(retry > 0 ? retry - 1 : 0u, 10u);
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(base * (1u << doublings));
}

}  // namespace planetserve::http
