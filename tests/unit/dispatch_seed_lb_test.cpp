// SPDX-License-Identifier: MIT
// Tests of `lb --lb-compat seed` (seed_lb_policy) and offline replay against the seed's recorded choices.
#include <planetserve/dispatch/lb_policy.hpp>
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/dispatch/replay.hpp>
#include <planetserve/dispatch/seed_lb_policy.hpp>
#include <planetserve/workload/decision_fixture.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <vector>

namespace {

template <class R>
bool has(const R& r) {
  return r.has_value();
}

namespace d = planetserve::dispatch;
namespace wl = planetserve::workload;
using planetserve::tokenize::token_id;
using namespace std::chrono_literals;

d::policy_config seed_config(std::size_t nodes) {
  d::policy_config c;
  c.nodes = nodes;
  c.lb.compat = d::lb_compat::seed;
  c.tree.chunk_tokens = 10;
  c.tree.recent_prompts = 10;
  c.lb.initial_latencies.assign(nodes, 0.1s);  // 100 ms each
  return c;
}

std::vector<token_id> tokens(token_id first, std::size_t n) {
  std::vector<token_id> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = first + static_cast<token_id>(i);
  return v;
}

d::node_index route(d::policy& p, const std::vector<token_id>& t) {
  const d::request_view req{t};
  const auto dec = p.choose(req);
  if (dec) p.on_dispatched(dec.node, req);
  return dec.node;
}

std::vector<d::replay_request> replay_requests(const wl::decision_fixture& f) {
  std::vector<d::replay_request> out;
  for (const auto& r : f.requests)
    out.push_back({r.tokens, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::duration<double>(r.generation_time_s))});
  return out;
}

}  // namespace

TEST_CASE("seed lb: every choice on the seed's recorded mixed sequence equals the seed's", "[dispatch][seed]") {
  planetserve::diagnostics diag;
  const auto file = std::filesystem::path(PLANETSERVE_TEST_DATA_DIR) / "dispatch" / "lb_decisions_mixed.jsonl";
  auto f = wl::read_decision_fixture(file, diag);
  REQUIRE(f.has_value());
  REQUIRE(f->scenario.nodes == 4);
  REQUIRE(f->requests.size() == 120);
  d::policy_config c;
  wl::apply_scenario(f->scenario, c);
  c.lb.compat = d::lb_compat::seed;
  auto p = d::make_policy("lb", c);
  REQUIRE(dynamic_cast<d::seed_lb_policy*>(p.get()) != nullptr);
  const auto reqs = replay_requests(*f);
  const auto choices = d::replay(*p, reqs, f->scenario.completion_lag);
  REQUIRE(choices.size() == 120);
  std::size_t agree = 0;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    INFO("request " << i);
    REQUIRE(f->requests[i].expected);
    CHECK(choices[i].node == *f->requests[i].expected);
    agree += choices[i].node == *f->requests[i].expected;
  }
  CHECK(agree == 120);
  // The sequence tells the two algorithms apart: pswm's lb with the seed-like flags
  // (recent-prompts memory, any match, 10-token blocks) departs from it.
  d::policy_config pc;
  wl::apply_scenario(f->scenario, pc);
  pc.tree.memory = planetserve::hrtree::memory_model::recent_prompts;
  pc.lb.min_match_ratio = 0;
  auto pswm = d::make_policy("lb", pc);
  REQUIRE(dynamic_cast<d::lb_policy*>(pswm.get()) != nullptr);
  const auto other = d::replay(*pswm, reqs, f->scenario.completion_lag);
  std::size_t same = 0;
  for (std::size_t i = 0; i < other.size(); ++i) same += other[i].node == *f->requests[i].expected;
  CHECK(same < 120);
}

TEST_CASE("seed lb: the cut is over the matching nodes only, so a busy holder keeps its prompt", "[dispatch][seed]") {
  auto c = seed_config(2);
  c.lb.batch_size_tokens = 10;
  c.lb.service_tokens_per_step = 0;  // queues never drain
  d::seed_lb_policy p(c);
  const auto a = tokens(100, 20);
  CHECK(route(p, a) == 0);  // nothing matches, BFs tie at 0: fewer prompts, then lower index
  CHECK(p.queued_tokens(0) == 20);
  // Node 0: BF = 100 ms x 2 batches = 200; node 1: 0. Only node 0 matches, so the 80th
  // percentile of the matching BFs is its own: it stays eligible and wins.
  const d::request_view req{a};
  const auto dec = p.choose(req);
  CHECK(dec.node == 0);
  CHECK(dec.fired == d::rule::best_match);
  CHECK(dec.load_score[0] == Approx(200.0));
  CHECK(dec.match_blocks[0] == 2);
  CHECK(dec.match_blocks[1] == 0);
  // pswm's lb takes the cut over every available node (80th percentile of {200, 0} = 160):
  // the same state sends the prompt to the idle node.
  auto pc = c;
  pc.lb.compat = d::lb_compat::pswm;
  pc.lb.min_match_ratio = 0;
  pc.tree.memory = planetserve::hrtree::memory_model::recent_prompts;
  d::lb_policy q(pc);
  CHECK(route(q, a) == 0);
  CHECK(route(q, a) == 1);
}

TEST_CASE("seed lb: a short last chunk counts, queues grow by whole chunks, any shared chunk is a hit", "[dispatch][seed]") {
  auto c = seed_config(3);
  c.lb.service_tokens_per_step = 0;
  d::seed_lb_policy p(c);
  const auto a = tokens(1, 25);  // chunks of 10, 10 and 5 tokens
  CHECK(route(p, a) == 0);
  CHECK(p.queued_tokens(0) == 30);  // 3 chunks x 10
  CHECK(p.matched_chunks(0, a) == 3);
  auto b = a;
  b[24] = 999;  // differs in the short last chunk only
  CHECK(p.matched_chunks(0, b) == 2);
  auto shared_first = tokens(1, 10);
  shared_first.push_back(7);  // one chunk in common of two: a hit (match 0.5 > 0)
  const d::request_view req{shared_first};
  const auto dec = p.choose(req);
  CHECK(dec.node == 0);  // BF 100 x 1 batch, the only hit: the cut is its own BF
  CHECK(dec.fired == d::rule::best_match);
  CHECK(dec.prompt_blocks == 2);
}

TEST_CASE("seed lb: the baseline matches until the first prompt; the window keeps the last prompts", "[dispatch][seed]") {
  auto c = seed_config(2);
  c.tree.recent_prompts = 2;
  c.lb.seed_baseline_tokens = {5, 6, 7, 8, 9};
  d::seed_lb_policy p(c);
  const std::vector<token_id> base{5, 6, 7, 8, 9};
  CHECK(p.matched_chunks(0, base) == 1);
  CHECK(p.matched_chunks(1, base) == 1);
  const auto a = tokens(100, 10), b = tokens(200, 10), e = tokens(300, 10);
  CHECK(route(p, a) == 0);  // both hold the baseline only: no hit for a, lowest BF, lower index
  CHECK(p.matched_chunks(0, base) == 0);  // deleted at node 0's first insert
  CHECK(p.matched_chunks(1, base) == 1);
  // Window of 2: the third prompt on node 0 evicts the first.
  p.on_dispatched(0, d::request_view{b});
  p.on_dispatched(0, d::request_view{e});
  CHECK(p.matched_chunks(0, a) == 0);
  CHECK(p.matched_chunks(0, b) == 1);
  CHECK(p.matched_chunks(0, e) == 1);
}

TEST_CASE("seed lb: latency EMA in ms from successful completions only; reset restores the start", "[dispatch][seed]") {
  auto c = seed_config(2);
  d::seed_lb_policy p(c);
  CHECK(p.latency_ms(0) == 100.0);
  p.on_finished(0, d::outcome{.e2e = 1s});
  CHECK(p.latency_ms(0) == 100.0 * 0.875 + 1000.0 * 0.125);
  p.on_finished(1, d::outcome{.e2e = 1s, .ok = false});
  CHECK(p.latency_ms(1) == 100.0);
  p.reset();
  CHECK(p.latency_ms(0) == 100.0);
  // Without recorded latencies each node starts in the seed's range [71/f, 71 f] ms, f = 78/71.
  c.lb.initial_latencies.clear();
  d::seed_lb_policy q(c);
  for (d::node_index k = 0; k < 2; ++k) {
    CHECK(q.latency_ms(k) >= 71.0 * 71.0 / 78.0);
    CHECK(q.latency_ms(k) <= 78.0);
  }
}

TEST_CASE("decision fixture: bad lines are refused with file, line and field", "[dispatch][seed]") {
  planetserve::diagnostics diag;
  CHECK_FALSE(has(wl::parse_decision_fixture("{\"kind\": \"request\", \"tokens\": [1]}\n", "f.jsonl", diag)));
  CHECK(diag.message.find("f.jsonl:1") != std::string::npos);
  CHECK_FALSE(has(wl::parse_decision_fixture("{\"kind\": \"scenario\", \"nodes\": 2}\n{\"kind\": \"request\", \"tokens\": [-1]}\n",
                                         "f.jsonl", diag)));
  CHECK(diag.message.find("f.jsonl:2") != std::string::npos);
  CHECK(diag.message.find("tokens") != std::string::npos);
  CHECK_FALSE(has(wl::parse_decision_fixture("{\"kind\": \"scenario\", \"nodes\": 2}\n{\"kind\": \"request\", \"tokens\": [1], \"seed_choice\": 2}\n",
                                         "f.jsonl", diag)));
  CHECK(diag.message.find("seed_choice") != std::string::npos);
  // Replay converts the time to nanoseconds; 1e20 s would overflow them (undefined).
  CHECK_FALSE(has(wl::parse_decision_fixture(
      "{\"kind\": \"scenario\", \"nodes\": 2}\n{\"kind\": \"request\", \"tokens\": [1], \"generation_time_s\": 1e20}\n",
      "f.jsonl", diag)));
  CHECK(diag.message.find("f.jsonl:2") != std::string::npos);
  CHECK(diag.message.find("generation_time_s") != std::string::npos);
  CHECK_FALSE(has(wl::parse_decision_fixture("", "f.jsonl", diag)));
  auto ok = wl::parse_decision_fixture(
      "{\"kind\": \"scenario\", \"nodes\": 2, \"completion_lag\": 1}\n\n{\"kind\": \"request\", \"tokens\": [1, 2], \"generation_time_s\": 0.5}\n",
      "f.jsonl", diag);
  REQUIRE(ok.has_value());
  CHECK(ok->scenario.nodes == 2);
  CHECK(ok->scenario.chunk_tokens == 10);
  REQUIRE(ok->requests.size() == 1);
  CHECK(ok->requests[0].line == 3);
  CHECK_FALSE(ok->requests[0].expected);
  CHECK(ok->requests[0].generation_time_s == 0.5);
}

TEST_CASE("replay: request j completes just before request j + lag is decided", "[dispatch][seed]") {
  // Queues never drain and one batch holds everything: BF = latency EMA once a node has work.
  auto c = seed_config(2);
  c.lb.batch_size_tokens = 1000;
  c.lb.service_tokens_per_step = 0;
  const auto a = tokens(100, 10), b = tokens(200, 10), e = tokens(300, 10);
  const std::vector<d::replay_request> reqs{{a, 2s}, {b, 10ms}, {e, 10ms}};
  d::seed_lb_policy p(c);
  const auto lag1 = d::replay(p, reqs, 1);
  REQUIRE(lag1.size() == 3);
  CHECK(lag1[0].node == 0);  // BFs 0: lower index
  CHECK(lag1[1].node == 1);  // node 0 has work
  // Before e: a (2 s, node 0) and b (10 ms, node 1) are done: BF 337.5 vs 88.75.
  CHECK(lag1[2].node == 1);
  // Every request completes by the end: node 1 saw b then e.
  CHECK(p.latency_ms(1) == (100.0 * 0.875 + 10.0 * 0.125) * 0.875 + 10.0 * 0.125);
  d::seed_lb_policy q(c);
  const auto lag3 = d::replay(q, reqs, 3);
  // Nothing has completed before e: both EMAs are still 100 ms, equal prompts: lower index.
  CHECK(lag3[2].node == 0);
}
