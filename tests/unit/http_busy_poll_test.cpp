// SPDX-License-Identifier: MIT
// http::run_busy_polling: runs every handler like io_context::run, whether it arrives while
// the loop polls or after it went to sleep, and returns when the context stops or runs dry.
#include <planetserve/http/busy_poll.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST_CASE("run_busy_polling runs handlers posted while polling and after sleeping, then returns when out of work",
          "[http][busy_poll]") {
  asio::io_context io(1);
  auto work = asio::make_work_guard(io);
  std::atomic<int> seen{0};
  const auto t0 = std::chrono::steady_clock::now();  // before the feeder starts its 205 ms
  std::thread feeder([&] {
    // One post inside the 50 ms spin, one long after it (the loop is asleep in the kernel by then).
    std::this_thread::sleep_for(5ms);
    asio::post(io, [&] { seen.fetch_add(1); });
    std::this_thread::sleep_for(200ms);
    asio::post(io, [&] {
      seen.fetch_add(10);
      work.reset();
    });
  });
  const std::size_t ran = planetserve::http::run_busy_polling(io, 50ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  feeder.join();
  CHECK(seen.load() == 11);
  CHECK(ran == 2);
  CHECK(io.stopped());
  CHECK(took >= 200ms);  // it waited for the late handler instead of giving up after the spin
}

TEST_CASE("run_busy_polling stops when a handler stops the context, and zero spin is io_context::run",
          "[http][busy_poll]") {
  for (const auto spin : {0ms, 20ms}) {
    asio::io_context io(1);
    auto work = asio::make_work_guard(io);
    asio::steady_timer t(io, 30ms);
    int fired = 0;
    t.async_wait([&](boost::system::error_code) {
      ++fired;
      io.stop();
    });
    asio::post(io, [&] { ++fired; });
    const std::size_t ran = planetserve::http::run_busy_polling(io, spin);
    CHECK(fired == 2);
    CHECK(ran == 2);
    CHECK(io.stopped());
  }
}

TEST_CASE("run_busy_polling returns at once on a context with no work", "[http][busy_poll]") {
  asio::io_context io(1);
  CHECK(planetserve::http::run_busy_polling(io, 1s) == 0);
  CHECK(io.stopped());
}
