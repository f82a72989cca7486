// SPDX-License-Identifier: MIT
// planetserve::http failure rules shared by the runner and the router: what a failure says about the node, what may be retried, and when.
#pragma once

#include <boost/system/error_code.hpp>

#include <chrono>

namespace planetserve::http {

/// Whether a failed request says the node itself may be unreachable (no HTTP status, and the
/// connection failed, closed or timed out), as opposed to a request the node refused: it
/// counts towards the node's circuit breaker.
bool node_unreachable(unsigned status, boost::system::error_code ec) noexcept;

/// Whether a failed request may be sent again elsewhere: no response byte came back
/// (`response_started` false, no status) and the connection failed or closed, so the server
/// produced nothing for it. A timeout may mean the server is still working: not retryable.
bool retryable_failure(unsigned status, boost::system::error_code ec, bool response_started) noexcept;

/// The wait before retry number `retry` (1 for the first): `base` doubled for each further
/// retry, at most 10 doublings.
std::chrono::steady_clock::duration retry_delay(std::chrono::duration<double> base, unsigned retry) noexcept;

}  // namespace planetserve::http
