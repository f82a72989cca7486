// SPDX-License-Identifier: MIT
// Consumer smoke test: headers found, library linked, Asio compiled once and usable.
#include <planetserve/error.hpp>
#include <planetserve/version.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

int main() {
  boost::asio::io_context io;
  int ran = 0;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> { ++ran; co_return; },
                        boost::asio::detached);
  io.run();
  boost::system::error_code ec = planetserve::error::timeout;
  std::cout << "planetserve " << planetserve::version_string << ": " << ec.message() << "\n";
  return (ran == 1 && ec.message() == "timed out") ? 0 : 1;
}
