// SPDX-License-Identifier: MIT
// experiment::epoch_core under a mock clock: schedule, admission, breaker, retries, stop and
// drain, each in microseconds of test time instead of seconds of sleeping.
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/experiment/epoch_core.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

namespace ex = planetserve::experiment;
namespace dp = planetserve::dispatch;
using namespace std::chrono_literals;

namespace {

/// `n` requests, one every `gap`, each with its own short prompt.
struct fixed_source final : ex::request_source {
  std::vector<std::vector<planetserve::tokenize::token_id>> prompts;
  ex::epoch_time gap;
  fixed_source(std::size_t n, ex::epoch_time g) : gap(g) {
    for (std::size_t i = 0; i < n; ++i) prompts.push_back({1, 2, 3, static_cast<planetserve::tokenize::token_id>(100 + i)});
  }
  std::size_t size() const noexcept override { return prompts.size(); }
  ex::epoch_time due(std::size_t i) const override { return gap * static_cast<long>(i); }
  dp::request_view view(std::size_t i) override { return {prompts[i], i}; }
  void describe(std::size_t i, ex::request_record& rec) const override { rec.query_id = i; }
};

/// Drives a core: collects its actions; sends are kept until the test ends them.
struct harness {
  dp::policy_config pc;
  std::unique_ptr<dp::policy> policy;
  fixed_source source;
  ex::epoch_core core;
  ex::epoch_time now{0};
  std::vector<std::pair<std::size_t, dp::node_index>> in_flight;  // sends not yet ended
  std::vector<std::pair<ex::epoch_time, std::pair<std::size_t, dp::node_index>>> sends;
  std::vector<dp::node_index> health_checks;
  std::vector<std::size_t> records;
  std::vector<std::string> messages;
  int abandons = 0;
  bool over = false;

  static dp::policy_config config(std::size_t nodes) {
    dp::policy_config c;
    c.nodes = nodes;
    return c;
  }
  static std::vector<std::string> labels(std::size_t nodes) {
    std::vector<std::string> l;
    for (std::size_t k = 0; k < nodes; ++k) l.push_back("node_" + std::to_string(k));
    return l;
  }
  harness(std::size_t nodes, std::size_t requests, ex::epoch_time gap, ex::epoch_settings s, std::string policy_name = "rr")
      : pc(config(nodes)), policy(dp::make_policy(policy_name, pc)), source(requests, gap),
        core(s, *policy, source, labels(nodes), 0) {}

  void drain_actions() {
    while (auto a = core.pop_action()) {
      switch (a->what) {
        case ex::epoch_action::kind::send:
          in_flight.push_back({a->request, a->node});
          sends.push_back({now, {a->request, a->node}});
          break;
        case ex::epoch_action::kind::check_health: health_checks.push_back(a->node); break;
        case ex::epoch_action::kind::record: records.push_back(a->request); break;
        case ex::epoch_action::kind::message: messages.push_back(a->text); break;
        case ex::epoch_action::kind::abandon: ++abandons; break;
        case ex::epoch_action::kind::over: over = true; break;
      }
    }
  }
  void start() {
    core.start(now, 1000.0);
    drain_actions();
  }
  /// Advances the mock clock to `t`, waking the core at each of its wake times on the way.
  void run_until(ex::epoch_time t) {
    while (auto w = core.next_wake()) {
      if (*w > t) break;
      now = std::max(now, *w);
      core.advance(now);
      drain_actions();
    }
    now = std::max(now, t);
    core.advance(now);
    drain_actions();
  }
  static ex::attempt_result ok_result(double sent, double done) {
    ex::attempt_result a;
    a.sent_s = sent;
    a.first_token_s = sent + 0.01;
    a.finished_s = done;
    a.http_status = 200;
    a.ok = true;
    a.completion_tokens = 5;
    return a;
  }
  static ex::attempt_result refused_connection(double sent) {
    ex::attempt_result a;
    a.sent_s = sent;
    a.finished_s = sent;
    a.error = "connection refused";
    a.error_kind = "connection_failed";
    a.node_unreachable = true;
    a.retryable = true;
    return a;
  }
  /// Ends the in-flight attempt of request `i` with `r`.
  void end(std::size_t i, ex::attempt_result r) {
    std::erase_if(in_flight, [&](const auto& p) { return p.first == i; });
    core.on_attempt_end(i, std::move(r), now);
    drain_actions();
  }
  void end_all_ok() {
    const auto copy = in_flight;
    for (const auto& [i, k] : copy) end(i, ok_result(0, std::chrono::duration<double>(now).count()));
  }
};

}  // namespace

TEST_CASE("epoch core: requests go at their due times, round-robin, and the epoch ends when all are recorded",
          "[epoch_core]") {
  harness h(2, 4, 100ms, {});
  h.start();
  REQUIRE(h.sends.size() == 1);  // request 0 is due at 0
  CHECK(h.core.next_wake() == ex::epoch_time(100ms));
  h.run_until(350ms);
  REQUIRE(h.sends.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(h.sends[i].first == ex::epoch_time(100ms) * static_cast<long>(i));
    CHECK(h.sends[i].second.second == static_cast<dp::node_index>(i % 2));
  }
  CHECK_FALSE(h.over);
  h.end_all_ok();
  CHECK(h.over);
  CHECK(h.records.size() == 4);
  const auto recs = h.core.take_records();
  REQUIRE(recs.size() == 4);
  CHECK(recs[3].scheduled_s == Approx(0.3));
  CHECK(recs[3].node == 1);
  CHECK(recs[3].rule == "round-robin");
  CHECK(recs[0].ok);
}

TEST_CASE("epoch core: a node's connection cap queues the rest in order; --max-concurrency holds the schedule",
          "[epoch_core]") {
  SECTION("per node") {
    ex::epoch_settings s;
    s.max_connections_per_node = 1;
    harness h(1, 3, 0ms, s);
    h.start();
    REQUIRE(h.in_flight.size() == 1);
    CHECK(h.in_flight[0].first == 0);
    h.end(0, harness::ok_result(0, 0.1));
    REQUIRE(h.in_flight.size() == 1);
    CHECK(h.in_flight[0].first == 1);  // the oldest waiting goes next
    h.end(1, harness::ok_result(0, 0.2));
    CHECK(h.in_flight[0].first == 2);
    CHECK(h.core.progress().sent == 3);  // all three were routed at once
  }
  SECTION("fleet-wide") {
    ex::epoch_settings s;
    s.max_concurrency = 2;
    harness h(4, 5, 0ms, s);
    h.start();
    CHECK(h.in_flight.size() == 2);
    CHECK(h.core.progress().sent == 2);  // the third waits before routing
    h.now = 50ms;
    h.end(0, harness::ok_result(0, 0.05));
    CHECK(h.in_flight.size() == 2);
    CHECK(h.core.progress().sent == 3);
    CHECK(h.sends.back().first == ex::epoch_time(50ms));
  }
}

TEST_CASE("epoch core: consecutive connection failures open the breaker; /health brings the node back half-open",
          "[epoch_core]") {
  ex::epoch_settings s;
  s.breaker_failures = 2;
  s.retry_backoff = 10ms;
  s.health_interval = 1s;
  harness h(2, 6, 0ms, s);
  h.start();
  // Requests 0, 2, 4 went to node 0, which refuses connections.
  for (std::size_t i : {0u, 2u}) h.end(i, harness::refused_connection(0));
  // The first failure made node 0 suspect: one /health check at once.
  REQUIRE(h.health_checks == std::vector<dp::node_index>{0});
  h.core.on_health(0, true, "", h.now);  // it answers: not out
  h.drain_actions();
  CHECK(h.messages.empty());
  // Request 2's failure came while the check ran: counted, no second check. The /health
  // answer does not reset the count (only a response does), so the third failure opens it.
  CHECK(h.health_checks.size() == 1);
  h.end(4, harness::refused_connection(0));
  REQUIRE(h.messages.size() == 1);
  CHECK(h.messages[0].find("node_0 is out: 3 consecutive connection failures") != std::string::npos);
  // The retries go to node 1 after their backoff.
  h.run_until(100ms);
  for (const auto& [i, k] : h.in_flight) CHECK(k == 1);
  CHECK(h.in_flight.size() == 6);
  // /health is asked every second while out.
  h.health_checks.clear();
  h.run_until(1100ms);
  REQUIRE(h.health_checks == std::vector<dp::node_index>{0});
  h.core.on_health(0, false, "answered HTTP 503", h.now);
  h.drain_actions();
  h.run_until(2200ms);
  REQUIRE(h.health_checks.size() == 2);
  h.core.on_health(0, true, "", h.now);
  h.drain_actions();
  CHECK(h.messages.back() == "node_0 answers /health again: routing to it");
  h.end_all_ok();
  CHECK(h.over);
  const auto recs = h.core.take_records();
  CHECK(recs[4].retries == 1);
  CHECK(recs[4].node == 1);
  CHECK(recs[4].ok);
  CHECK(recs[4].node_out_reason.find("consecutive connection failures") != std::string::npos);
}

TEST_CASE("epoch core: while every node is out a due request waits, then goes or is recorded no_node_available",
          "[epoch_core]") {
  ex::epoch_settings s;
  s.breaker_failures = 1;
  s.no_node_wait = 5s;
  s.max_retries = 0;
  SECTION("a node comes back in time: sent late, its send lag shows it") {
    harness h(1, 2, 1s, s);
    h.start();
    h.end(0, harness::refused_connection(0));  // node 0 out
    h.run_until(2s);                           // request 1 due at 1 s waits
    CHECK(h.in_flight.empty());
    REQUIRE_FALSE(h.health_checks.empty());
    h.core.on_health(0, true, "", h.now);
    h.drain_actions();
    REQUIRE(h.in_flight.size() == 1);
    CHECK(h.sends.back().first == ex::epoch_time(2s));
    h.end(1, harness::ok_result(2.0, 2.5));
    CHECK(h.over);
    const auto recs = h.core.take_records();
    CHECK(recs[1].send_lag_s() == Approx(1.0));
  }
  SECTION("no node within --no-node-wait") {
    harness h(1, 2, 1s, s);
    h.start();
    h.end(0, harness::refused_connection(0));
    h.run_until(10s);
    for (std::size_t k = 0; k < h.health_checks.size(); ++k) {
      h.core.on_health(0, false, "failed: connection refused", h.now);
      h.drain_actions();
    }
    h.run_until(10s);
    CHECK(h.over);
    const auto recs = h.core.take_records();
    REQUIRE(recs.size() == 2);
    CHECK(recs[1].error_kind == "no_node_available");
    CHECK(recs[1].finished_s == Approx(6.0));  // due at 1 s, gave up 5 s later
    CHECK(recs[1].node_out_reason.find("node_0: 1 consecutive connection failures") != std::string::npos);
    CHECK(recs[1].absolute_start == Approx(1006.0));
  }
}

TEST_CASE("epoch core: a stop records queued requests as not sent, drains, abandons at the deadline", "[epoch_core]") {
  ex::epoch_settings s;
  s.max_connections_per_node = 1;
  s.drain_timeout = 2s;
  harness h(1, 10, 100ms, s);
  h.start();
  h.run_until(250ms);  // 0 in flight, 1 and 2 queued
  REQUIRE(h.in_flight.size() == 1);
  h.core.request_stop(h.now);
  h.drain_actions();
  CHECK(h.records == std::vector<std::size_t>{1, 2});
  CHECK(h.messages.back().find("waiting up to 2 s for 1 in flight") != std::string::npos);
  CHECK_FALSE(h.over);
  h.run_until(3s);
  CHECK(h.abandons == 1);
  h.end(0, [] {
    auto a = harness::refused_connection(0);
    a.error_kind = "interrupted";
    a.node_unreachable = a.retryable = false;
    return a;
  }());
  CHECK(h.over);
  const auto recs = h.core.take_records();
  CHECK(recs.size() == 3);  // 3..9 were never routed
  CHECK(recs[1].error_kind == "interrupted");
  CHECK(std::isnan(recs[1].sent_s));
  CHECK(recs[1].error.find("stopped before a connection to node_0 was free") != std::string::npos);
}

TEST_CASE("epoch core: the policy learns each request's id, routed tokens and outcome", "[epoch_core]") {
  harness h(2, 2, 0ms, {}, "least-loaded");
  h.start();
  CHECK(h.policy->stats(0).in_flight + h.policy->stats(1).in_flight == 2);
  h.end_all_ok();
  CHECK(h.policy->stats(0).in_flight + h.policy->stats(1).in_flight == 0);
}
