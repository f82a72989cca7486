// SPDX-License-Identifier: MIT
// Tests for the co_spawn completion handler that lets a background coroutine's exception out of run().
#include <planetserve/detail/rethrow.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>

namespace {

boost::asio::awaitable<void> fails() {
  throw std::runtime_error("step loop broke");
  co_return;
}

boost::asio::awaitable<void> works(int& ran) {
  ++ran;
  co_return;
}

}  // namespace

TEST_CASE("rethrow_exception: a background coroutine's exception comes out of run(), not lost", "[rethrow]") {
  boost::asio::io_context io;
  boost::asio::co_spawn(io, fails(), planetserve::detail::rethrow_exception{});
  CHECK_THROWS_WITH(io.run(), "step loop broke");
  int ran = 0;
  boost::asio::io_context ok;
  boost::asio::co_spawn(ok, works(ran), planetserve::detail::rethrow_exception{});
  CHECK_NOTHROW(ok.run());
  CHECK(ran == 1);
}
