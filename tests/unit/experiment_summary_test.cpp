// SPDX-License-Identifier: MIT
// Tests for summarize(), the request record's derived times, node timeline look-ups and wait_group.
#include <planetserve/experiment/node_timeline.hpp>
#include <planetserve/experiment/request_record.hpp>
#include <planetserve/experiment/summary.hpp>
#include <planetserve/experiment/wait_group.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <vector>

namespace ex = planetserve::experiment;
namespace asio = boost::asio;

namespace {

ex::request_record ok_record(std::size_t query, std::size_t epoch, std::uint32_t node, double sched,
                             double sent, double first, double fin, std::uint32_t prompt,
                             std::uint32_t completion, std::vector<double> chunks) {
  ex::request_record r;
  r.query_id = query;
  r.epoch = epoch;
  r.node = node;
  r.scheduled_s = sched;
  r.sent_s = sent;
  r.first_token_s = first;
  r.finished_s = fin;
  r.prompt_tokens = prompt;
  r.completion_tokens = completion;
  r.chunk_s = std::move(chunks);
  r.ok = true;
  r.http_status = 200;
  return r;
}

ex::request_record failed_record(std::size_t query, std::uint32_t node, double sched, double sent,
                                 double fin, std::string kind) {
  ex::request_record r;
  r.query_id = query;
  r.node = node;
  r.scheduled_s = sched;
  r.sent_s = sent;
  r.finished_s = fin;
  r.error = "it failed";
  r.error_kind = std::move(kind);
  return r;
}

ex::node_sample sample(double t, double queries, double hits, double kv) {
  ex::node_sample s;
  s.t_s = t;
  s.snap.prefix_cache_queries = queries;
  s.snap.prefix_cache_hits = hits;
  s.snap.kv_cache_usage = kv;
  return s;
}

/// Two epochs over two nodes; every expected number below is worked out by hand in comments.
std::vector<ex::request_record> two_epoch_records() {
  std::vector<ex::request_record> v;
  // Epoch 0. ttft .5, e2e 2, tpot (2-.5)/3 = .5, itl .5 .5 .5, lag 0.
  v.push_back(ok_record(0, 0, 0, 0.0, 0.0, 0.5, 2.0, 100, 4, {0.5, 1.0, 1.5, 2.0}));
  // ttft .25, e2e 1.25, tpot 1, itl 1, lag .25; usage: 25 of 50 cached.
  v.push_back(ok_record(1, 0, 1, 1.0, 1.25, 1.5, 2.5, 50, 2, {1.5, 2.5}));
  v.back().usage_reported = true;
  v.back().cached_tokens = 25;
  // ttft 1, e2e 1, tpot NaN (one token), no gaps, lag 0; usage: 0 of 10 cached.
  v.push_back(ok_record(2, 0, 0, 2.0, 2.0, 3.0, 3.0, 10, 1, {3.0}));
  v.back().usage_reported = true;
  // Failed: lag .5; its usage must not count.
  v.push_back(failed_record(3, 1, 3.0, 3.5, 4.0, "timeout"));
  v.back().usage_reported = true;
  v.back().cached_tokens = 100;
  v.back().prompt_tokens = 100;
  // Failed before being routed or sent, no kind: counted as "error".
  v.push_back(failed_record(4, planetserve::dispatch::no_node, 4.0, ex::missing, ex::missing, ""));
  v.push_back(failed_record(5, 0, 5.0, 5.0, 5.5, "timeout"));
  // Epoch 1 (times offset by the runner). ttft .5, e2e 1, tpot .25, itl .25 .25, lag 0.
  v.push_back(ok_record(0, 1, 1, 10.0, 10.0, 10.5, 11.0, 100, 3, {10.5, 10.75, 11.0}));
  // ttft .25, e2e 1, tpot .75, itl .75, lag 1.
  v.push_back(ok_record(1, 1, 0, 11.0, 12.0, 12.25, 13.0, 50, 2, {12.25, 13.0}));
  return v;
}

/// node_0's counters start high (cache warm from before the run) and reset at t=3 (restart);
/// node_1 starts from zero. Neither cumulative ratio equals the run's Δhits/Δqueries.
std::vector<ex::node_timeline> two_node_timelines() {
  std::vector<ex::node_timeline> t(2);
  t[0].name = "node_0";
  t[0].url = "http://a:1";
  t[0].samples = {sample(0, 1000, 900, 0.1), sample(1, 1100, 910, 0.2), sample(2, 1200, 920, 0.3),
                  sample(3, 50, 40, 0.4), sample(4, 150, 140, 0.5)};
  // Δ over the run: queries 100+100+50+100 = 350, hits 10+10+40+100 = 160.
  const double ttft[][2] = {{10, 20}, {11, 22}, {12, 24}, {0.5, 1}, {1.5, 3}};
  for (std::size_t i = 0; i < 5; ++i) {
    t[0].samples[i].snap.ttft_sum = ttft[i][0];
    t[0].samples[i].snap.ttft_count = ttft[i][1];
  }
  t[1].name = "node_1";
  t[1].url = "http://b:2";
  t[1].failed_scrapes = 2;
  t[1].samples = {sample(0, 0, 0, 0.5), sample(2, 200, 20, 0.7), sample(4, 400, 40, 0.9)};
  return t;
}

}  // namespace

TEST_CASE("experiment: request record derives ttft, tpot, e2e, send lag and itl", "[experiment][summary]") {
  auto r = ok_record(0, 0, 0, 1.0, 1.5, 2.0, 4.0, 10, 5, {2.0, 2.5, 3.5, 4.0});
  CHECK(r.send_lag_s() == 0.5);
  CHECK(r.ttft_s() == 0.5);
  CHECK(r.e2e_s() == 2.5);
  CHECK(r.tpot_s() == Approx(2.0 / 4));  // (2.5 - .5) over 4 gaps between 5 tokens
  CHECK(r.itl_s() == std::vector<double>{0.5, 1.0, 0.5});

  r.completion_tokens = 1;
  CHECK(std::isnan(r.tpot_s()));
  r.completion_tokens = 0;
  CHECK(std::isnan(r.tpot_s()));
  r.chunk_s = {2.0};
  CHECK(r.itl_s().empty());

  ex::request_record never;  // nothing happened: every derived time is NaN
  CHECK(std::isnan(never.ttft_s()));
  CHECK(std::isnan(never.e2e_s()));
  CHECK(std::isnan(never.send_lag_s()));
}

TEST_CASE("experiment: node timeline at() and between() on sample times", "[experiment][summary]") {
  ex::node_timeline tl;
  tl.samples = {sample(1, 0, 0, 0.1), sample(2, 0, 0, 0.2), sample(3, 0, 0, 0.3)};
  CHECK(tl.at(0.5) == nullptr);
  CHECK(tl.at(1.0) == &tl.samples[0]);  // at or before: inclusive
  CHECK(tl.at(2.5) == &tl.samples[1]);
  CHECK(tl.at(3.0) == &tl.samples[2]);
  CHECK(tl.at(99) == &tl.samples[2]);

  auto [b, e] = tl.between(1.5, 3.0);  // inclusive at both ends
  REQUIRE(e - b == 2);
  CHECK(b == &tl.samples[1]);
  auto [b1, e1] = tl.between(1.0, 1.0);
  REQUIRE(e1 - b1 == 1);
  CHECK(b1 == &tl.samples[0]);
  auto [b2, e2] = tl.between(3.5, 9);
  CHECK(b2 == e2);
  auto [b3, e3] = tl.between(0, 0.9);
  CHECK(b3 == e3);
  auto [b4, e4] = tl.between(2.5, 1.5);  // reversed window: empty, not negative
  CHECK(b4 == e4);

  ex::node_timeline empty;
  CHECK(empty.at(1) == nullptr);
  auto [b5, e5] = empty.between(0, 10);
  CHECK(b5 == e5);
}

TEST_CASE("experiment: summarize client-side latencies, percentiles, throughput and epochs", "[experiment][summary]") {
  const auto recs = two_epoch_records();
  const auto tls = two_node_timelines();
  const auto s = ex::summarize(recs, tls);

  CHECK(s.requests == 8);
  CHECK(s.ok == 5);
  CHECK(s.failed == 3);
  CHECK(s.epochs == 2);
  REQUIRE(s.failures.size() == 2);
  CHECK(s.failures.at("timeout") == 2);
  CHECK(s.failures.at("error") == 1);

  // TTFT over ok records: [.25 .25 .5 .5 1].
  CHECK(s.ttft_mean_s == Approx(0.5));
  CHECK(s.ttft_p50_s == Approx(0.5));
  CHECK(s.ttft_p99_s == Approx(0.5 + 0.5 * 0.96));  // rank .99*4 = 3.96
  // E2E: [1 1 1 1.25 2].
  CHECK(s.e2e_mean_s == Approx(1.25));
  CHECK(s.e2e_p50_s == Approx(1.0));
  CHECK(s.e2e_p99_s == Approx(1.25 + 0.75 * 0.96));
  // TPOT: single-token request left out: [.25 .5 .75 1].
  CHECK(s.tpot_mean_s == Approx(0.625));
  CHECK(s.tpot_p99_s == Approx(0.75 + 0.25 * 0.97));  // rank .99*3 = 2.97
  // ITL: [.25 .25 .5 .5 .5 .75 1].
  CHECK(s.itl_mean_s == Approx(3.75 / 7));
  CHECK(s.itl_p99_s == Approx(0.75 + 0.25 * 0.94));  // rank .99*6 = 5.94
  // Send lag over every record that was sent, failed ones too: [0 0 0 0 .25 .5 1].
  CHECK(s.send_lag_mean_s == Approx(0.25));
  CHECK(s.send_lag_max_s == 1.0);
  CHECK(s.send_lag_p99_s == Approx(0.5 + 0.5 * 0.94));

  // Duration per epoch, first send to last finish (failures included): 5.5 + 3.
  CHECK(s.duration_s == Approx(8.5));
  CHECK(s.request_throughput == Approx(5 / 8.5));
  CHECK(s.token_throughput == Approx(12 / 8.5));
  CHECK(s.total_token_throughput == Approx((12 + 310) / 8.5));
  // Gaps between sends within each epoch only (not 5 -> 10): 1.25 .75 1.5 1.5 | 2.
  CHECK(s.inter_arrival_mean_s == Approx(7.0 / 5));
  CHECK(s.prompt_tokens_mean == Approx(62));
  CHECK(s.completion_tokens_mean == Approx(2.4));
  // Usage-reporting ok requests only: 25 of 60.
  CHECK(s.client_cached_ratio == Approx(25.0 / 60));
}

TEST_CASE("experiment: summarize per-node shares and server-side ratios over deltas", "[experiment][summary]") {
  const auto recs = two_epoch_records();
  const auto tls = two_node_timelines();
  const auto s = ex::summarize(recs, tls);

  REQUIRE(s.nodes.size() == 2);
  CHECK(s.nodes[0].name == "node_0");
  CHECK(s.nodes[0].url == "http://a:1");
  CHECK(s.nodes[0].requests == 4);
  CHECK(s.nodes[0].failed == 1);
  CHECK(s.nodes[1].requests == 3);
  CHECK(s.nodes[1].failed == 1);
  CHECK(s.nodes[1].failed_scrapes == 2);
  // Shares of the 7 routed requests (the unrouted one is no node's share): they sum to 1.
  CHECK(s.nodes[0].share == Approx(4.0 / 7));
  CHECK(s.nodes[1].share == Approx(3.0 / 7));

  // Δhits/Δqueries with the reset on node_0 counted as growth from zero.
  CHECK(s.nodes[0].prefix_hit_ratio == Approx(160.0 / 350));
  CHECK(s.nodes[1].prefix_hit_ratio == Approx(0.1));
  CHECK(s.prefix_hit_ratio == Approx(200.0 / 750));
  // Not the cumulative ratio at the end, nor the mean of the nodes' ratios.
  CHECK(s.prefix_hit_ratio != Approx((140.0 + 40) / (150 + 400)));
  CHECK(s.prefix_hit_ratio != Approx((160.0 / 350 + 0.1) / 2));

  CHECK(s.nodes[0].kv_cache_usage_mean == Approx(0.3));
  CHECK(s.nodes[1].kv_cache_usage_mean == Approx(0.7));
  CHECK(s.kv_cache_usage_mean == Approx(3.6 / 8));  // over all 8 scrapes, not the nodes' means

  // node_0's TTFT histogram: Δsum 1+1+.5+1 = 3.5 over Δcount 2+2+1+2 = 7; node_1 observed none.
  CHECK(s.server_ttft_mean_s == Approx(0.5));
  CHECK(std::isnan(s.server_tpot_mean_s));
}

TEST_CASE("experiment: summarize an empty run gives NaN, not zero or garbage", "[experiment][summary]") {
  const auto s = ex::summarize({}, {});
  CHECK(s.requests == 0);
  CHECK(s.ok == 0);
  CHECK(s.epochs == 1);
  CHECK(s.duration_s == 0);
  CHECK(std::isnan(s.request_throughput));
  CHECK(std::isnan(s.ttft_mean_s));
  CHECK(std::isnan(s.ttft_p99_s));
  CHECK(std::isnan(s.inter_arrival_mean_s));
  CHECK(std::isnan(s.prefix_hit_ratio));
  CHECK(std::isnan(s.kv_cache_usage_mean));
  CHECK(std::isnan(s.client_cached_ratio));
  CHECK(s.failures.empty());

  // Nodes without scrapes: NaN ratios, share 0 when nothing was routed.
  std::vector<ex::node_timeline> tls(1);
  ex::request_record lost = failed_record(0, planetserve::dispatch::no_node, 0, ex::missing,
                                          ex::missing, "no_node");
  const auto s2 = ex::summarize(std::span(&lost, 1), tls);
  REQUIRE(s2.nodes.size() == 1);
  CHECK(s2.nodes[0].share == 0);
  CHECK(std::isnan(s2.nodes[0].prefix_hit_ratio));
  CHECK(std::isnan(s2.nodes[0].kv_cache_usage_mean));
  CHECK(s2.failures.at("no_node") == 1);
  CHECK(s2.duration_s == 0);  // never sent: no span
}

TEST_CASE("experiment: wait_group resumes the waiter only after every task is done", "[experiment][summary]") {
  asio::io_context io;
  ex::wait_group wg(io.get_executor());
  wg.add(2);
  bool resumed = false;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> {
        co_await wg.wait();
        resumed = true;
      },
      asio::detached);
  io.poll();
  CHECK_FALSE(resumed);
  wg.done();
  io.poll();
  CHECK_FALSE(resumed);
  CHECK(wg.count() == 1);
  wg.done();
  io.poll();
  CHECK(resumed);
  CHECK(wg.count() == 0);
}

TEST_CASE("experiment: wait_group done() without add() asserts, or with NDEBUG stays at zero", "[experiment][summary]") {
  // The misuse runs in a child process: in a debug build the assertion aborts it.
  asio::io_context io;
  ex::wait_group wg(io.get_executor());
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    wg.done();
    std::_Exit(wg.count() == 0 ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
#ifdef NDEBUG
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
#else
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT));
#endif
}

TEST_CASE("experiment: wait_group wait_until reports whether the count reached zero", "[experiment][summary]") {
  asio::io_context io;
  ex::wait_group wg(io.get_executor());
  int expired = -1, drained = -1;
  wg.add();
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> {
        // A deadline already passed: returns at once, count still 1.
        expired = co_await wg.wait_until(std::chrono::steady_clock::now() - std::chrono::seconds(1));
        drained = co_await wg.wait_until(std::chrono::steady_clock::now() + std::chrono::hours(1));
      },
      asio::detached);
  io.poll();
  CHECK(expired == 0);
  CHECK(drained == -1);  // still waiting on the hour-long deadline
  wg.done();
  io.poll();
  CHECK(drained == 1);
}
