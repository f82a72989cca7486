// SPDX-License-Identifier: MIT
// wait_group: lets one coroutine wait until a number of others have finished (one thread).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cassert>
#include <chrono>
#include <cstddef>

namespace planetserve::experiment {

/// Counts running tasks; wait() resumes when the count reaches zero. Single-threaded.
class wait_group {
 public:
  /// An empty group whose waiter runs on `ex`.
  explicit wait_group(boost::asio::any_io_executor ex)
      : timer_(ex, boost::asio::steady_timer::time_point::max()) {}

  /// `n` more tasks to wait for.
  void add(std::size_t n = 1) noexcept { count_ += n; }
  /// One task finished. A done() without a matching add() is a bug in the caller: it
  /// asserts (debug builds); with NDEBUG the count stays at zero rather than wrap.
  void done() {
    assert(count_ > 0 && "wait_group::done() without a matching add()");
    if (count_ == 0) return;
    --count_;
    if (count_ == 0 || count_ < wake_below_) timer_.cancel();
  }
  /// Tasks not yet done.
  std::size_t count() const noexcept { return count_; }

  /// Waits until the count is zero.
  boost::asio::awaitable<void> wait() {
    while (count_ > 0) {
      timer_.expires_at(boost::asio::steady_timer::time_point::max());
      co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
  }

  /// Waits until the count is zero or `deadline` passes; true when the count reached zero.
  boost::asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline) {
    while (count_ > 0 && std::chrono::steady_clock::now() < deadline) {
      timer_.expires_at(deadline);
      co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    co_return count_ == 0;
  }
  /// Waits until fewer than `limit` tasks run or `deadline` passes; true when fewer run.
  boost::asio::awaitable<bool> wait_below_until(std::size_t limit, std::chrono::steady_clock::time_point deadline) {
    while (count_ >= limit && std::chrono::steady_clock::now() < deadline) {
      wake_below_ = limit;
      timer_.expires_at(deadline);
      co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    wake_below_ = 0;
    co_return count_ < limit;
  }

 private:
  boost::asio::steady_timer timer_;
  std::size_t count_ = 0;
  std::size_t wake_below_ = 0;  // wait_below_until's limit while it waits (0: none)
};

}  // namespace planetserve::experiment
