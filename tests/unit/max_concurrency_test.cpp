// SPDX-License-Identifier: MIT
// Tests for --max-concurrency: a run on the emulator never has more requests in flight than the cap.
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/runner.hpp>
#include <planetserve/experiment/wait_group.hpp>
#include <planetserve/sim/fleet.hpp>
#include <planetserve/sim/profile.hpp>

#include "unit/reliability_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace ex = planetserve::experiment;
namespace sim = planetserve::sim;
namespace rt = reliability_test;
using namespace std::chrono_literals;

// The most requests whose [sent, finished] spans overlap at one instant.
std::size_t peak_in_flight(const std::vector<ex::request_record>& recs) {
  std::vector<std::pair<double, int>> events;
  for (const auto& r : recs) {
    events.emplace_back(r.sent_s, +1);
    events.emplace_back(r.finished_s, -1);
  }
  // At equal times an end comes before a start: a request sent as another ends does not overlap it.
  std::sort(events.begin(), events.end());
  std::size_t now = 0, peak = 0;
  for (const auto& [t, d] : events) {
    now = d > 0 ? now + 1 : now - 1;
    peak = std::max(peak, now);
  }
  return peak;
}

// 40 requests due 1 ms apart to two nodes that each take 40 ms to answer, with `cap` in flight at most.
std::vector<ex::request_record> capped_run(const std::string& name, std::size_t cap) {
  rt::temp_dir tmp(name);
  asio::io_context io;
  sim::fleet_config fc;
  fc.num_nodes = 2;
  fc.node = sim::node_config::from_profile(*sim::find_profile("instant"));
  fc.node.faults.added_delay = 40ms;
  sim::fleet fleet(io.get_executor(), fc);
  ps::diagnostics diag;
  REQUIRE_FALSE(fleet.start(diag));
  auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 40), tmp.path / "out");
  cfg.endpoints = fleet.urls();
  cfg.average_interval_s = 0.001;
  cfg.max_concurrency = cap;
  std::ostringstream log;
  ex::runner r(io.get_executor(), cfg, log);
  rt::pass_result pr;
  asio::co_spawn(io, rt::full_pass(r, pr), [&](std::exception_ptr) { io.stop(); });
  io.run_for(30s);
  INFO(pr.diag << log.str());
  REQUIRE(pr.finished);
  REQUIRE_FALSE(pr.run);
  const auto logs = rt::dirs_starting(tmp.path / "out", "log_");
  REQUIRE(logs.size() == 1);
  std::vector<ex::request_record> recs;
  for (const auto& line : rt::lines_of(rt::slurp(logs[0] / "requests.jsonl"))) {
    auto rec = ex::parse_record_line(line, diag);
    REQUIRE(rec.has_value());
    recs.push_back(*rec);
  }
  return recs;
}

}  // namespace

TEST_CASE("max concurrency: requests in flight never exceed the cap; the wait shows as send lag", "[runner][max_concurrency]") {
  const auto capped = capped_run("maxconc3", 3);
  REQUIRE(capped.size() == 40);
  CHECK(std::all_of(capped.begin(), capped.end(), [](const auto& r) { return r.ok; }));
  CHECK(peak_in_flight(capped) == 3);
  // 40 requests, 3 at a time, 40 ms each: the last one waits about 13 rounds, not 39 ms.
  double lag_max = 0;
  for (const auto& r : capped) lag_max = std::max(lag_max, r.send_lag_s());
  CHECK(lag_max > 0.3);

  // Without a cap the same schedule has many more in flight (the check above can fail).
  const auto open = capped_run("maxconc0", 0);
  CHECK(peak_in_flight(open) > 3);
}

TEST_CASE("max concurrency: wait_group wait_below_until resumes once the count drops below the limit", "[runner][max_concurrency]") {
  asio::io_context io;
  ex::wait_group wg(io.get_executor());
  wg.add(3);
  bool below = false, timed_out_result = true;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        timed_out_result = co_await wg.wait_below_until(2, std::chrono::steady_clock::now() + 20ms);
        below = co_await wg.wait_below_until(2, std::chrono::steady_clock::now() + 10s);
      },
      [](std::exception_ptr) {});
  io.run_for(50ms);
  CHECK_FALSE(timed_out_result);  // 3 running, limit 2: the deadline passed first
  CHECK_FALSE(below);
  wg.done();  // 2 left: still not below 2
  io.run_for(20ms);
  CHECK_FALSE(below);
  wg.done();
  io.run_for(50ms);
  CHECK(below);
}
