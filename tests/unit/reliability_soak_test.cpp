// SPDX-License-Identifier: MIT
// Soak: ten minutes at a steady rate against the emulator, resident memory flat (hidden: [.soak]).
//
// Run it with `./build/tests/planetserve_tests "[soak]"` (PSWM_SOAK_SECONDS shortens it). The
// `[.]` in its tag keeps it out of ctest's discovery, so CI never runs it by accident.
#include <planetserve/experiment/runner.hpp>
#include <planetserve/sim/fleet.hpp>
#include <planetserve/sim/profile.hpp>

#include "unit/reliability_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>

#include <malloc.h>
#include <sstream>

// GCC 12 reports a false -Wmismatched-new-delete on the coroutine frames of test lambdas
// (the frame's own operator new/delete pair is used; GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

namespace asio = boost::asio;
namespace ex = planetserve::experiment;
namespace sim = planetserve::sim;
namespace rt = reliability_test;

}  // namespace

TEST_CASE("reliability soak: steady rate for ten minutes keeps resident memory flat", "[.soak]") {
  double total_s = 600;
  if (const char* s = std::getenv("PSWM_SOAK_SECONDS"); s && *s) total_s = std::atof(s);
  REQUIRE(total_s >= 20);
  // The run is cut into segments, each a whole `pswm run` (its records are kept until it
  // ends, by design); the fleet lives throughout. After the first segment (warm-up: pools,
  // caches, allocator arenas) memory must stay where it is.
  const int segments = 10;
  const double segment_s = total_s / segments;
  const double interval_s = 0.05;  // 20 requests per second, steady
  const auto per_segment = static_cast<std::size_t>(segment_s / interval_s);

  rt::temp_dir tmp("soak");
  const auto dataset = rt::write_dataset(tmp.path, per_segment, "soak");
  asio::io_context io;
  sim::fleet_config fc;
  fc.num_nodes = 2;
  fc.node = sim::node_config::from_profile(sim::default_profile());
  // A small KV cache, full within the warm-up: the emulator runs in this process too, and
  // with the profile's 28k blocks its prefix cache keeps filling (bounded, but slowly) for
  // the whole ten minutes, which would hide what pswm itself does.
  fc.node.engine.num_gpu_blocks = 2048;
  fc.node.engine.num_gpu_blocks_overridden = true;
  fc.node.num_gpu_blocks_override = 2048;
  sim::fleet fleet(io.get_executor(), fc);
  planetserve::diagnostics diag;
  REQUIRE_FALSE(fleet.start(diag));

  std::vector<std::size_t> rss, heap;
  std::size_t requests = 0, failed = 0;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int seg = 0; seg < segments; ++seg) {
          auto cfg = rt::quick_config(dataset, tmp.path / ("seg" + std::to_string(seg)));
          cfg.endpoints = fleet.urls();
          cfg.average_interval_s = interval_s;
          cfg.max_new_tokens = 32;
          cfg.policies = {"lb"};
          cfg.metrics_interval = std::chrono::duration<double>(0.1);
          std::ostringstream log;
          {
            ex::runner r(io.get_executor(), cfg, log);
            rt::pass_result pr;
            co_await rt::full_pass(r, pr);
            if (pr.prepare || pr.preflight || pr.run) {
              std::cerr << "soak segment " << seg << " failed: " << pr.diag << "\n";
              break;
            }
            requests += r.results().at(0).summary.requests;
            failed += r.results().at(0).summary.failed;
          }
          std::filesystem::remove_all(tmp.path / ("seg" + std::to_string(seg)));
          // Free pages go back to the kernel first: a burst (the machine busy, requests piling
          // up) leaves a high-water mark in the allocator that is not a leak.
          const std::size_t before_trim = rt::rss_bytes();
          ::malloc_trim(0);
          rss.push_back(rt::rss_bytes());
          heap.push_back(::mallinfo2().uordblks);
          std::cout << "soak: segment " << seg + 1 << "/" << segments << " done, " << requests
                    << " requests, RSS " << before_trim / 1024 << " KiB, after malloc_trim " << rss.back() / 1024
                    << " KiB, heap in use " << heap.back() / 1024 << " KiB" << std::endl;
        }
        co_await fleet.async_shutdown(std::chrono::milliseconds(500));
        done = true;
      },
      asio::detached);
  io.run();
  REQUIRE(done);
  REQUIRE(rss.size() == static_cast<std::size_t>(segments));
  const std::size_t start = rss.front(), end = rss.back();
  std::cout << "soak: " << requests << " requests (" << failed << " failed) in " << total_s
            << " s; RSS after warm-up " << start / 1024 << " KiB, at the end " << end / 1024
            << " KiB; heap in use " << heap.front() / 1024 << " KiB -> " << heap.back() / 1024 << " KiB\n";
  CHECK(failed == 0);
  CHECK(requests == per_segment * segments);
  // Flat: a leak of even 100 bytes per request would show as ~1 MiB over the run.
  CHECK(end < start + 4 * 1024 * 1024);
  CHECK(heap.back() < heap.front() + 1024 * 1024);
}
