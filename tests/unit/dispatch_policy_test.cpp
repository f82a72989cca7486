// SPDX-License-Identifier: MIT
// Tests of the dispatch policies' decisions on scripted scenarios, and of the factory.
#include <planetserve/dispatch/lb_policy.hpp>
#include <planetserve/dispatch/make_policy.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace {

namespace d = planetserve::dispatch;
using planetserve::tokenize::token_id;
using namespace std::chrono_literals;

/// A prompt of `blocks` 16-token blocks: block i is (base + i) repeated.
std::vector<token_id> prompt(std::initializer_list<token_id> blocks) {
  std::vector<token_id> v;
  for (const auto b : blocks) v.insert(v.end(), 16, b);
  return v;
}

d::policy_config config(std::size_t nodes) {
  d::policy_config c;
  c.nodes = nodes;
  c.seed = 1;
  return c;
}

d::node_index route(d::policy& p, const std::vector<token_id>& tokens) {
  const d::request_view req{tokens};
  const auto dec = p.choose(req);
  if (dec) p.on_dispatched(dec.node, req);
  return dec.node;
}

}  // namespace

TEST_CASE("dispatch factory: every known name builds, unknown names do not", "[dispatch]") {
  const auto known = d::known_policies();
  REQUIRE(known.size() == 9);
  for (const auto& info : known) {
    auto p = d::make_policy(info.name, config(3));
    REQUIRE(p);
    CHECK(p->name() == info.name);
    CHECK_FALSE(info.description.empty());
  }
  CHECK(d::make_policy("round-robin", config(3)) == nullptr);
  CHECK(d::known_policy_names() == "rr, lb, least-loaded, random, p2c, cache-aware, hrt, session, precise");
  auto bad = config(0);
  planetserve::diagnostics diag;
  CHECK(d::check(bad, diag) == planetserve::error::invalid_argument);
  CHECK_FALSE(diag.empty());
  CHECK_THROWS_AS(d::make_policy("rr", bad), std::invalid_argument);
  // The lb description says which memory model it uses by default.
  CHECK(std::string(known[1].description).find("default memory lru-blocks") != std::string::npos);
  CHECK(d::to_string(d::rule::best_match) == "best-match");
}

TEST_CASE("dispatch policies: never choose an unavailable node; none available says so", "[dispatch]") {
  for (const auto& info : d::known_policies()) {
    auto p = d::make_policy(info.name, config(3));
    p->set_available(1, false);
    const auto tokens = prompt({1, 2});
    for (int i = 0; i < 50; ++i) CHECK(route(*p, tokens) != 1);
    p->set_available(0, false);
    p->set_available(2, false);
    const auto dec = p->choose(d::request_view{tokens});
    CHECK_FALSE(dec);
    CHECK(dec.node == d::no_node);
    CHECK(dec.fired == d::rule::none_available);
    p->set_available(2, true);
    CHECK(route(*p, tokens) == 2);
  }
}

TEST_CASE("dispatch policies: decisions are reproducible from the seed, also after reset", "[dispatch]") {
  for (const auto& info : d::known_policies()) {
    auto a = d::make_policy(info.name, config(5));
    auto b = d::make_policy(info.name, config(5));
    std::vector<d::node_index> first, second, third;
    for (token_id i = 0; i < 60; ++i) {
      const auto t = prompt({i % 4, i});
      first.push_back(route(*a, t));
      second.push_back(route(*b, t));
    }
    a->reset();
    for (token_id i = 0; i < 60; ++i) third.push_back(route(*a, prompt({i % 4, i})));
    CHECK(first == second);
    CHECK(first == third);
  }
}

TEST_CASE("dispatch policies: beyond 64 nodes and explained decisions", "[dispatch]") {
  for (const auto& info : d::known_policies()) {
    auto p = d::make_policy(info.name, config(100));
    const auto t = prompt({7, 8, 9});
    const auto first = route(*p, t);
    REQUIRE(first < 100);
    const auto dec = p->choose(d::request_view{t});
    REQUIRE(dec.match_blocks.size() == 100);
    REQUIRE(dec.load_score.size() == 100);
    CHECK(dec.prompt_blocks == 3);
    // explain_matches: every policy reports matches; precise as vLLM would hit them, which is at
    // most (tokens - 1) / block tokens: the last token of a prompt is always computed.
    CHECK(dec.match_blocks[first] == (info.name == "precise" ? 2u : 3u));
    CHECK(dec.chosen_match() == dec.match_blocks[dec.node]);
  }
}

TEST_CASE("dispatch rr: node i gets request i, skipping unavailable nodes", "[dispatch]") {
  auto p = d::make_policy("rr", config(3));
  const auto t = prompt({1});
  std::vector<d::node_index> got;
  for (int i = 0; i < 4; ++i) got.push_back(route(*p, t));
  CHECK(got == std::vector<d::node_index>{0, 1, 2, 0});
  p->set_available(2, false);
  got.clear();
  for (int i = 0; i < 3; ++i) got.push_back(route(*p, t));
  CHECK(got == std::vector<d::node_index>{1, 0, 1});
  CHECK(p->choose(d::request_view{t}).fired == d::rule::round_robin);
}

TEST_CASE("dispatch lb: no match picks lowest BF then fewer requests; a match sticks", "[dispatch]") {
  auto c = config(3);
  c.lb.initial_latency_jitter = 0;  // equal latencies: BF ties everywhere
  d::lb_policy p(c);
  // No node matches: lowest BF (all 0 with the default drain), then fewer requests.
  CHECK(route(p, prompt({1, 2})) == 0);
  CHECK(route(p, prompt({3, 4})) == 1);
  CHECK(route(p, prompt({5, 6})) == 2);
  const auto dec = p.choose(d::request_view{prompt({3, 4, 9})});
  CHECK(dec.node == 1);
  CHECK(dec.fired == d::rule::best_match);
  CHECK(dec.match_blocks[1] == 2);
  // Two nodes match equally: fewer requests so far wins.
  route(p, prompt({3, 4, 10}));  // -> node 1 (now 2 requests)
  route(p, prompt({11}));        // -> node 0 (2 requests)
  auto q = prompt({3, 4});
  const d::request_view req{q};
  p.on_dispatched(2, req);  // node 2 now holds {3,4} too, with 2 requests
  p.on_dispatched(2, d::request_view{prompt({12})});  // node 2: 3 requests
  const auto tie = p.choose(req);
  CHECK(tie.match_blocks[1] == 2);
  CHECK(tie.match_blocks[2] == 2);
  CHECK(tie.node == 1);
  CHECK(p.choose(d::request_view{prompt({40, 41})}).fired == d::rule::lowest_busy);
}

TEST_CASE("dispatch lb: EMA and queue model follow the seed's constants", "[dispatch]") {
  auto c = config(2);
  c.lb.initial_latency_jitter = 0;
  d::lb_policy p(c);
  CHECK(p.latency(0) == Approx(0.071));
  p.on_dispatched(0, d::request_view{std::vector<token_id>(3000, 1)});
  CHECK(p.queued_tokens(0) == Approx(3000 - 2048));
  CHECK(p.busy_factor(0) == Approx(0.071 * 1));  // ceil(952 / 2048) = 1 batch
  p.on_finished(0, d::outcome{1s, 10, 10, true});
  CHECK(p.latency(0) == Approx(0.875 * 0.071 + 0.125 * 1.0));
  p.on_finished(0, d::outcome{5s, 10, 10, false});  // failures do not feed the EMA
  CHECK(p.latency(0) == Approx(0.875 * 0.071 + 0.125 * 1.0));
  p.on_dispatched(1, d::request_view{std::vector<token_id>(16, 2)});
  CHECK(p.queued_tokens(0) == 0);  // drained: 952 - 2048 < 0
  // Jittered starts stay within +-10% of 71 ms and differ between nodes.
  d::lb_policy j(config(4));
  for (d::node_index i = 0; i < 4; ++i) {
    CHECK(j.latency(i) >= 0.071 * 0.9);
    CHECK(j.latency(i) <= 0.071 * 1.1);
  }
  CHECK(j.latency(0) != j.latency(1));
}

TEST_CASE("dispatch lb: only matching nodes at or below the 80th-percentile BF are eligible", "[dispatch]") {
  auto c = config(5);
  c.lb.initial_latency_jitter = 0;
  c.lb.service_tokens_per_step = 0;     // queues never drain: every node keeps 1 batch
  c.lb.batch_size_tokens = 1'000'000;
  c.lb.ema_weight = 1.0;                // latency = last observed e2e
  d::lb_policy p(c);
  // Every node holds {1,2}; node 4 also holds {1,2,3}.
  for (d::node_index i = 0; i < 5; ++i) p.on_dispatched(i, d::request_view{prompt({1, 2, token_id(100 + i)})});
  p.on_dispatched(4, d::request_view{prompt({1, 2, 3})});
  // BFs 1..5 s: the 80th percentile (numpy linear) of {1,2,3,4,5} is 4.2.
  for (d::node_index i = 0; i < 5; ++i) p.on_finished(i, d::outcome{std::chrono::seconds(i + 1)});
  const auto target = prompt({1, 2, 3, 77});
  auto dec = p.choose(d::request_view{target});
  CHECK(dec.match_blocks[4] == 3);
  CHECK(dec.load_score[4] == Approx(5.0));
  CHECK(dec.node == 0);  // node 4 (BF 5 > 4.2) is cut; among the rest, lowest BF
  CHECK(dec.fired == d::rule::best_match);
  // At BF 4 ({1,2,3,4,4}: cut 4) node 4 is eligible and its deeper match wins.
  p.on_finished(4, d::outcome{4s});
  dec = p.choose(d::request_view{target});
  CHECK(dec.node == 4);
  // Unavailable nodes are not part of the percentile: node 3 (BF 4) now also holds {1,2,3};
  // without node 4 the cut over {1,2,3,4} is 3.4, so node 3 is cut (with node 4 it would be 4).
  p.on_dispatched(3, d::request_view{prompt({1, 2, 3})});
  p.set_available(4, false);
  dec = p.choose(d::request_view{target});
  CHECK(dec.match_blocks[3] == 3);
  CHECK(dec.node == 0);
}

TEST_CASE("dispatch lb: the BF cut is over every available node, not just the matching ones", "[dispatch]") {
  auto c = config(4);
  c.lb.initial_latency_jitter = 0;
  c.lb.service_tokens_per_step = 0;
  c.lb.batch_size_tokens = 1'000'000;
  c.lb.ema_weight = 1.0;
  d::lb_policy p(c);
  // Only node 0 holds the shared preamble {1,2}; the others hold nothing, so their queues
  // are empty and their BF is 0.
  p.on_dispatched(0, d::request_view{prompt({1, 2, 50})});
  p.on_finished(0, d::outcome{std::chrono::seconds(3)});
  const auto next = prompt({1, 2, 60});
  auto dec = p.choose(d::request_view{next});
  CHECK(dec.match_blocks[0] == 2);
  CHECK(dec.load_score[0] == Approx(3.0));
  // The 80th percentile of {3,0,0,0} is 1.2: the lone matching node is too busy, so the
  // request goes to the least busy node instead of piling onto node 0.
  CHECK(dec.node != 0);
  CHECK(dec.fired == d::rule::lowest_busy);
}

TEST_CASE("dispatch lb: a match below min_match_ratio counts as none", "[dispatch]") {
  auto c = config(3);
  c.lb.initial_latency_jitter = 0;  // every BF is 0 with the default drain: the cut passes all
  d::lb_policy p(c);
  REQUIRE(c.lb.min_match_ratio == 0.5);
  // Node 0 served a prompt behind a 2-block shared preamble {1,2}.
  CHECK(route(p, prompt({1, 2, 50, 51, 52, 53, 54, 55})) == 0);
  // Preamble only (2 of 8 blocks, 0.25): no match, so the least busy node with fewer requests.
  auto dec = p.choose(d::request_view{prompt({1, 2, 60, 61, 62, 63, 64, 65})});
  CHECK(dec.match_blocks[0] == 2);
  CHECK(dec.fired == d::rule::lowest_busy);
  CHECK(dec.node == 1);
  // Exactly half the prompt (4 of 8 blocks) is a match.
  dec = p.choose(d::request_view{prompt({1, 2, 50, 51, 70, 71, 72, 73})});
  CHECK(dec.fired == d::rule::best_match);
  CHECK(dec.node == 0);
  // The seed's rule (0): any shared block is a match, and the preamble pins node 0.
  c.lb.min_match_ratio = 0;
  d::lb_policy seed(c);
  route(seed, prompt({1, 2, 50, 51, 52, 53, 54, 55}));
  dec = seed.choose(d::request_view{prompt({1, 2, 60, 61, 62, 63, 64, 65})});
  CHECK(dec.fired == d::rule::best_match);
  CHECK(dec.node == 0);
  // Out-of-range ratios are a configuration error naming the field.
  c.lb.min_match_ratio = 1.5;
  planetserve::diagnostics diag;
  CHECK(d::check(c, diag));
  CHECK(diag.message.find("lb.min_match_ratio") != std::string::npos);
}

TEST_CASE("dispatch least-loaded and p2c: fewer in flight wins; ties spread", "[dispatch]") {
  auto ll = d::make_policy("least-loaded", config(4));
  const auto t = prompt({1});
  ll->on_dispatched(0, d::request_view{t});
  ll->on_dispatched(1, d::request_view{t});
  ll->on_dispatched(2, d::request_view{t});
  CHECK(ll->choose(d::request_view{t}).node == 3);
  ll->on_dispatched(3, d::request_view{t});
  ll->on_finished(2, d::outcome{});
  CHECK(ll->choose(d::request_view{t}).node == 2);
  // All equal: random tie-breaks use more than one node.
  auto idle = d::make_policy("least-loaded", config(4));
  std::set<d::node_index> seen;
  for (int i = 0; i < 40; ++i) seen.insert(idle->choose(d::request_view{t}).node);
  CHECK(seen.size() > 1);

  auto p2c = d::make_policy("p2c", config(2));
  for (int i = 0; i < 5; ++i) p2c->on_dispatched(0, d::request_view{t});
  for (int i = 0; i < 20; ++i) CHECK(p2c->choose(d::request_view{t}).node == 1);
}

TEST_CASE("dispatch random: uniform-ish over available nodes", "[dispatch]") {
  auto p = d::make_policy("random", config(4));
  std::vector<int> hits(4);
  const auto t = prompt({1});
  for (int i = 0; i < 4000; ++i) ++hits[p->choose(d::request_view{t}).node];
  for (const int h : hits) CHECK(h > 800);
}

TEST_CASE("dispatch cache-aware: imbalance, cache threshold, smallest cache", "[dispatch]") {
  auto c = config(3);
  c.cache_aware.balance_abs_threshold = 2;
  auto p = d::make_policy("cache-aware", c);
  // Empty caches: match ratio 0 -> the node with the fewest cached blocks (ties: index).
  auto dec = p->choose(d::request_view{prompt({1, 2, 3, 4})});
  CHECK(dec.fired == d::rule::smallest_cache);
  CHECK(dec.node == 0);
  p->on_dispatched(0, d::request_view{prompt({1, 2, 3, 4})});
  // 3 of 4 blocks held: ratio 0.75 > 0.5 -> cache hit on node 0.
  dec = p->choose(d::request_view{prompt({1, 2, 3, 9})});
  CHECK(dec.fired == d::rule::cache_hit);
  CHECK(dec.node == 0);
  // 1 of 4: below the threshold -> a node with an empty cache.
  dec = p->choose(d::request_view{prompt({1, 7, 8, 9})});
  CHECK(dec.fired == d::rule::smallest_cache);
  CHECK(dec.node == 1);
  // Loads 3,0,0 > abs 2 and 3 > 1.0001 * 0: imbalanced -> least loaded, despite the match.
  p->on_dispatched(0, d::request_view{prompt({50})});
  p->on_dispatched(0, d::request_view{prompt({51})});
  dec = p->choose(d::request_view{prompt({1, 2, 3, 4})});
  CHECK(dec.fired == d::rule::load_imbalance);
  CHECK(dec.node == 1);
}

TEST_CASE("dispatch hrt: longest prefix, least loaded among holders, overload trade-off", "[dispatch]") {
  auto c = config(4);
  c.hrt.max_imbalance = 2;
  c.hrt.tokens_per_load = 16;  // one unit of load = one block saved
  auto p = d::make_policy("hrt", c);
  const auto a = prompt({1, 2, 3, 4, 5});
  // No prefix anywhere: least loaded; all idle so random ties spread over nodes.
  std::set<d::node_index> seen;
  for (int i = 0; i < 40; ++i) {
    const auto dec = p->choose(d::request_view{a});
    CHECK(dec.fired == d::rule::no_prefix);
    seen.insert(dec.node);
  }
  CHECK(seen.size() > 1);
  p->on_dispatched(1, d::request_view{a});
  p->on_dispatched(2, d::request_view{prompt({1, 2, 3, 4, 5, 6})});
  p->on_dispatched(3, d::request_view{prompt({1, 2})});
  // Nodes 1 and 2 hold all 5 blocks; node 2 is busier (in flight 1 vs 1 -> scrape says more).
  p->on_load(1, d::live_load{0, 0, {}});
  p->on_load(2, d::live_load{1, 1, {}});
  auto dec = p->choose(d::request_view{a});
  CHECK(dec.fired == d::rule::longest_prefix);
  CHECK(dec.node == 1);
  CHECK(dec.match_blocks[3] == 2);
  // Node 1 overloaded (5 more than the least loaded node 0): trade saved tokens against load.
  p->on_load(1, d::live_load{4, 1, 0.5});
  p->on_load(2, d::live_load{4, 0, {}});
  p->on_load(3, d::live_load{0, 0, {}});
  p->on_load(0, d::live_load{0, 0, {}});
  dec = p->choose(d::request_view{a});
  // Scores: node0 0-0, node1 80-16*5.5, node2 80-16*4, node3 32-0 -> node3.
  CHECK(dec.fired == d::rule::saved_vs_load);
  CHECK(dec.node == 3);
  CHECK(dec.load_score[1] == Approx(5.5));
  // Own dispatches since the last scrape count as load.
  p->on_dispatched(3, d::request_view{prompt({90})});
  p->on_dispatched(3, d::request_view{prompt({91})});
  p->on_dispatched(3, d::request_view{prompt({92})});
  dec = p->choose(d::request_view{a});
  CHECK(dec.load_score[3] == Approx(3.0));
  CHECK(dec.node == 2);  // 80-64=16 beats node3 32-48 and node0 0
}

TEST_CASE("dispatch policy: on_dispatched records the dispatched prompt, not the last chosen", "[dispatch]") {
  auto p = d::make_policy("hrt", config(2));
  const auto a = prompt({1, 2, 3});
  const auto b = prompt({4, 5, 6});
  const d::request_view ra{a, 1}, rb{b, 2};
  p->choose(ra);
  p->choose(rb);
  p->on_dispatched(0, ra);
  CHECK(p->choose(ra).match_blocks[0] == 3);
  CHECK(p->choose(rb).match_blocks[0] == 0);
  p->forget_cache(0);
  CHECK(p->choose(ra).match_blocks[0] == 0);
}

namespace {

/// A user's own policy: always the highest-numbered available node.
class last_node final : public d::policy {
 public:
  explicit last_node(const d::policy_config& c) : policy(c, true) {}
  std::string_view name() const noexcept override { return "last"; }
  int finished = 0;

 protected:
  d::decision do_choose(const d::request_view&, const d::fleet_view&) override {
    for (auto i = static_cast<d::node_index>(nodes()); i-- > 0;)
      if (stats(i).available) return make_decision(i, d::rule::custom);
    return make_decision(d::no_node, d::rule::none_available);
  }
  void do_finished(d::node_index, const d::outcome&) override { ++finished; }
};

}  // namespace

TEST_CASE("dispatch policy: a user policy gets statistics, matches and hooks", "[dispatch]") {
  last_node p(config(3));
  const auto t = prompt({1, 2});
  CHECK(route(p, t) == 2);
  const auto dec = p.choose(d::request_view{t});
  CHECK(dec.fired == d::rule::custom);
  CHECK(dec.match_blocks[2] == 2);
  CHECK(p.stats(2).in_flight == 1);
  p.on_finished(2, d::outcome{1s, 32, 5, false});
  CHECK(p.finished == 1);
  CHECK(p.stats(2).failed == 1);
  CHECK(p.stats(2).in_flight == 0);
  p.on_load(1, d::live_load{3, 4, 0.5});
  CHECK(p.stats(1).has_live);
  CHECK(p.stats(1).live.waiting == 4);
  CHECK_THROWS_AS(p.on_finished(7, d::outcome{}), std::out_of_range);
  p.reset();
  CHECK(p.stats(2).dispatched == 0);
  CHECK(p.choose(d::request_view{t}).match_blocks[2] == 0);
}
