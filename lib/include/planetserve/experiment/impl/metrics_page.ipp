// SPDX-License-Identifier: MIT
// Compiled body of experiment::async_parse_vllm_page.
#pragma once

#include <planetserve/experiment/metrics_page.hpp>
#include <planetserve/prom/parser.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace planetserve::experiment {

boost::asio::awaitable<result<prom::vllm_snapshot>> async_parse_vllm_page(boost::asio::any_io_executor ex,
                                                                          std::string_view page, diagnostics& diag,
                                                                          std::size_t slice) {
  slice = std::max<std::size_t>(slice, 1);
  prom::vllm_snapshot_builder builder;
  prom::parser p(builder);
  for (std::size_t at = 0; at < page.size(); at += slice) {
    if (auto ec = p.feed(page.substr(at, slice))) {
      diag = p.diag();
      co_return ec;
    }
    if (at + slice < page.size()) co_await boost::asio::post(ex, boost::asio::use_awaitable);
  }
  if (auto ec = p.finish()) {
    diag = p.diag();
    co_return ec;
  }
  co_return builder.snapshot();
}

}  // namespace planetserve::experiment
