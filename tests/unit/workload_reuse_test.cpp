// SPDX-License-Identifier: MIT
// Tests of the reuse ceilings (hand-counted small cases), the workload stats and the conversation generator.
#include <planetserve/tokenize/approx_tokenizer.hpp>
#include <planetserve/workload/generator.hpp>
#include <planetserve/workload/reuse_ceiling.hpp>
#include <planetserve/workload/session_generator.hpp>
#include <planetserve/workload/workload_stats.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace ws = planetserve::workload;

namespace {

using keys = std::vector<std::uint64_t>;

void add(ws::reuse_ceiling& c, const keys& k, std::size_t tokens, std::uint64_t affinity) { c.add(k, tokens, affinity); }

}  // namespace

TEST_CASE("reuse ceiling: an infinite shared cache hits leading blocks seen before", "[workload][reuse]") {
  ws::reuse_ceiling c({.block_tokens = 16, .nodes = 2, .cache_blocks = 0});
  add(c, {1, 2, 3}, 48, 0);  // nothing seen: 0
  add(c, {1, 2, 4}, 50, 0);  // 1, 2 seen: 32 (the last two tokens are a partial block)
  add(c, {5, 2}, 32, 0);     // 5 unseen: a later block never counts after a miss: 0
  add(c, {1, 5}, 20, 0);     // 1 seen, 5 (as a second block) seen too: 2 blocks = 32, capped at 20 tokens
  const auto& r = c.result();
  CHECK(r.requests == 4);
  CHECK(r.input_tokens == 150);
  CHECK(r.shared_hit_tokens == 32 + 20);
  CHECK(r.shared_ratio() == Approx(52.0 / 150));
  CHECK(r.rr_hit_tokens == 0);  // no per-node figures without a cache size
}

TEST_CASE("reuse ceiling: per-node LRU caches under round-robin and perfect affinity", "[workload][reuse]") {
  // Two nodes of 8 blocks. Session A sends {1,2}, {1,2,3}; session B sends {7}, {7,8}.
  ws::reuse_ceiling c({.block_tokens = 10, .nodes = 2, .cache_blocks = 8});
  const std::uint64_t a = 100, b = 200;
  add(c, {1, 2}, 20, a);
  add(c, {7}, 10, b);
  add(c, {1, 2, 3}, 30, a);
  add(c, {7, 8}, 20, b);
  const auto& r = c.result();
  CHECK(r.input_tokens == 80);
  // Shared: {1,2} again (20) and {7} again (10).
  CHECK(r.shared_hit_tokens == 30);
  // Round-robin: requests 0, 2 on node 0 and 1, 3 on node 1: the same pairs meet, so the
  // same hits as shared here.
  CHECK(r.rr_hit_tokens == 30);
  // Affinity puts a session on one node; whichever nodes they get, each session's second
  // request finds its first (nothing is evicted): 30 as well. The difference shows below.
  CHECK(r.affinity_hit_tokens == 30);

  // Now session A alternates with B on round-robin over 2 nodes: A's turns land on nodes 0, 1, 0, ...
  ws::reuse_ceiling d({.block_tokens = 10, .nodes = 2, .cache_blocks = 8});
  add(d, {1}, 10, a);        // rr node 0
  add(d, {1, 2}, 20, a);     // rr node 1: miss; affinity: hit 1 block
  add(d, {1, 2, 3}, 30, a);  // rr node 0: hit {1}; affinity: hit {1, 2}
  const auto& q = d.result();
  CHECK(q.shared_hit_tokens == 10 + 20);
  CHECK(q.rr_hit_tokens == 10);
  CHECK(q.affinity_hit_tokens == 30);
}

TEST_CASE("reuse ceiling: LRU evicts the oldest prompt's tail first", "[workload][reuse]") {
  ws::reuse_ceiling c({.block_tokens = 1, .nodes = 1, .cache_blocks = 3});
  add(c, {1, 2}, 2, 0);
  add(c, {5, 6}, 2, 0);  // cache {1,2,5,6} over 3: 2 (the tail of the older prompt) goes
  add(c, {1, 2}, 2, 0);  // 1 still held, 2 not: 1 token
  CHECK(c.result().rr_hit_tokens == 1);
  CHECK(c.result().affinity_hit_tokens == 1);
  CHECK(c.result().shared_hit_tokens == 2);
}

TEST_CASE("workload stats: lengths, and sessions reuse their history", "[workload][reuse]") {
  const auto l = ws::summarize_lengths({5, 1, 4, 2, 3, 10, 6, 7, 9, 8});
  CHECK(l.count == 10);
  CHECK(l.total == 55);
  CHECK(l.mean == Approx(5.5));
  CHECK(l.p50 == 5);
  CHECK(l.p90 == 9);
  CHECK(l.max == 10);
  CHECK(ws::summarize_lengths({}).count == 0);

  ws::session_generator_config g;
  g.sessions = 20;
  g.min_turns = g.max_turns = 3;
  g.system_tokens = 200;
  planetserve::diagnostics diag;
  auto sessions = ws::generate_sessions(g, diag);
  REQUIRE(sessions.has_value());
  ws::session_dataset d;
  d.sessions = *sessions;
  planetserve::tokenize::approx_tokenizer tok;
  const auto w = ws::session_workload_stats(d, tok, {.block_tokens = 16, .nodes = 4, .cache_blocks = 100000});
  CHECK(w.requests == 60);
  CHECK(w.sessions == 20);
  CHECK(w.output.count == 60);
  CHECK(w.output.p50 > 0);
  // Turns 2 and 3 resend their history and the system prompt is shared: over half of the
  // input hits. With caches that never fill, affinity loses only the system prompt of each
  // node's first session; round-robin splits every session's turns over nodes.
  CHECK(w.reuse.shared_ratio() > 0.5);
  CHECK(w.reuse.affinity_ratio() <= w.reuse.shared_ratio());
  CHECK(w.reuse.affinity_ratio() > 0.9 * w.reuse.shared_ratio());
  CHECK(w.reuse.rr_ratio() < w.reuse.affinity_ratio());
  // Turn k's prompt is longer than turn k-1's.
  CHECK(w.input.max > w.input.p50);
}

TEST_CASE("workload stats: span and offered rate from arrivals, sessions counted", "[workload][reuse]") {
  ws::workload_stats_builder b({.block_tokens = 512, .nodes = 2, .cache_blocks = 0});
  const keys first{1, 2}, second{1, 3}, third{4};
  b.add(first, 1000, 10, 1, 2.0);
  b.add(second, 600, 30, 1, 3.0);
  b.add(third, 100, 20, 4, 6.0);
  b.add_session();
  const auto w = b.finish();
  CHECK(w.requests == 3);
  CHECK(w.sessions == 1);
  CHECK(w.span_s == Approx(4.0));
  CHECK(w.offered_rate == Approx(0.75));
  CHECK(w.input.mean == Approx(1700.0 / 3));
  CHECK(w.output.max == 30);
  // Block 1 (512 tokens) again in the second request.
  CHECK(w.reuse.shared_hit_tokens == 512);
  CHECK(w.reuse.shared_ratio() == Approx(512.0 / 1700));
  // No arrivals: no span, no rate.
  ws::workload_stats_builder none({});
  none.add(first, 40, 0, 0);
  CHECK(none.finish().span_s == 0);
  CHECK(none.finish().offered_rate == 0);
}

TEST_CASE("workload stats: a trace's hash ids are its blocks, its timestamps its arrivals", "[workload][reuse]") {
  ws::trace t;
  auto req = [](double ms, std::uint32_t in, std::uint32_t out, keys ids) {
    ws::trace_request r;
    r.timestamp_ms = ms;
    r.input_length = in;
    r.output_length = out;
    r.hash_ids = std::move(ids);
    return r;
  };
  t.requests = {req(1000, 1200, 10, {0, 1, 2}), req(1500, 1100, 20, {0, 1, 3}), req(3000, 300, 30, {4})};
  const auto w = ws::trace_workload_stats(t, {.block_tokens = 512, .nodes = 2, .cache_blocks = 16});
  CHECK(w.requests == 3);
  CHECK(w.span_s == Approx(2.0));
  CHECK(w.offered_rate == Approx(1.5));
  CHECK(w.output.mean == Approx(20));
  CHECK(w.input.max == 1200);
  // Ids 0 and 1 again in the second request: 2 blocks of 512.
  CHECK(w.reuse.shared_hit_tokens == 1024);
  CHECK(w.reuse.shared_ratio() == Approx(1024.0 / 2600));
  // Round-robin puts the two sharing requests on different nodes; first-block affinity does not.
  CHECK(w.reuse.rr_hit_tokens == 0);
  CHECK(w.reuse.affinity_hit_tokens == 1024);
}

TEST_CASE("session generator: seeded, shaped as asked, and readable by the session reader", "[workload][session]") {
  ws::session_generator_config g;
  g.sessions = 30;
  g.seed = 9;
  g.min_turns = 2;
  g.max_turns = 4;
  g.min_user_tokens = 10;
  g.max_user_tokens = 20;
  g.min_reply_tokens = 30;
  g.max_reply_tokens = 40;
  g.system_tokens = 50;
  planetserve::diagnostics diag;
  auto a = ws::generate_sessions(g, diag);
  auto b = ws::generate_sessions(g, diag);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  const std::string text = ws::to_sharegpt_jsonl(*a);
  CHECK(text == ws::to_sharegpt_jsonl(*b));
  g.seed = 10;
  CHECK(text != ws::to_sharegpt_jsonl(*ws::generate_sessions(g, diag)));

  std::size_t min_turns = 99, max_turns = 0;
  for (const auto& s : *a) {
    CHECK(s.system == (*a)[0].system);
    CHECK(ws::generator_units(s.system) >= 50);
    min_turns = std::min(min_turns, s.turns.size());
    max_turns = std::max(max_turns, s.turns.size());
    for (std::size_t k = 0; k < s.turns.size(); ++k) {
      CHECK(ws::generator_units(s.turns[k].user) >= 10);
      if (k + 1 < s.turns.size()) CHECK(ws::generator_units(s.turns[k].assistant) >= 30);
    }
    CHECK(s.turns.back().assistant.empty());
  }
  CHECK(min_turns == 2);
  CHECK(max_turns == 4);

  auto read = ws::parse_sessions(text, "gen.jsonl", {}, diag);
  INFO(diag.message);
  REQUIRE(read.has_value());
  REQUIRE(read->sessions.size() == 30);
  for (std::size_t i = 0; i < 30; ++i) {
    CHECK(read->sessions[i].id == "s" + std::to_string(i + 1));
    CHECK(read->sessions[i].system == (*a)[i].system);
    REQUIRE(read->sessions[i].turns.size() == (*a)[i].turns.size());
    for (std::size_t k = 0; k < (*a)[i].turns.size(); ++k) {
      CHECK(read->sessions[i].turns[k].user == (*a)[i].turns[k].user);
      CHECK(read->sessions[i].turns[k].assistant == (*a)[i].turns[k].assistant);
    }
  }

  g.min_turns = 5;
  CHECK_FALSE(ws::generate_sessions(g, diag).has_value());
  CHECK(diag.message == "session generator: the turn range is empty (min above max)");
}
