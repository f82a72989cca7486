// SPDX-License-Identifier: MIT
// http::run_busy_polling: io_context::run that polls for a while before sleeping in the kernel.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>

namespace planetserve::http {

/// Runs `io` like `io.run()`, except that when it runs out of ready handlers it keeps polling
/// (io.poll(): ready handlers, and the sockets with a zero timeout) for up to `spin` before
/// it sleeps in the kernel for the next event. `spin` of zero is `io.run()`.
///
/// Why: on a virtual machine a thread woken from a sleep pays the hypervisor's wake-up (tens
/// of microseconds per wake on small cloud VMs), and data sent to a sleeping thread pays
/// it too. A router that polls while traffic flows pays neither: busy polling trades the CPU
/// of the polling thread (one core at most) for latency. Give it a core of its own
/// (`taskset`), or the threads it shares a core with wait for it.
///
/// Returns the number of handlers run; returns when `io` is stopped or has no work left.
inline std::size_t run_busy_polling(boost::asio::io_context& io, std::chrono::nanoseconds spin) {
  if (spin <= std::chrono::nanoseconds::zero()) return io.run();
  using clock = std::chrono::steady_clock;
  std::size_t ran = 0;
  auto last_work = clock::now();
  while (!io.stopped()) {
    if (const std::size_t n = io.poll(); n > 0) {
      ran += n;
      last_work = clock::now();
      continue;
    }
    if (io.stopped()) break;  // poll() stops a context that has no work left
    if (clock::now() - last_work < spin) continue;
    ran += io.run_one();  // sleeps in the kernel until one handler has run
    last_work = clock::now();
  }
  return ran;
}

}  // namespace planetserve::http
