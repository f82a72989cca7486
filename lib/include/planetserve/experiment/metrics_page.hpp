// SPDX-License-Identifier: MIT
// async_parse_vllm_page: a /metrics page parsed in slices, so a huge page never stalls the loop.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <string_view>

namespace planetserve::experiment {

/// Bytes parsed between two yields of async_parse_vllm_page (about a millisecond of work).
inline constexpr std::size_t metrics_page_slice = 256 * 1024;

/// Parses `page` (which must stay alive until it completes) into a vLLM snapshot, feeding
/// the parser `slice` bytes at a time and posting to `ex` between slices: requests' sends
/// and time stamps wait at most one slice, not a whole 50 MB page. A page of at most one
/// slice is parsed without suspending. Errors as prom::parse_vllm_snapshot, in `diag`.
boost::asio::awaitable<result<prom::vllm_snapshot>> async_parse_vllm_page(boost::asio::any_io_executor ex,
                                                                          std::string_view page, diagnostics& diag,
                                                                          std::size_t slice = metrics_page_slice);

}  // namespace planetserve::experiment
