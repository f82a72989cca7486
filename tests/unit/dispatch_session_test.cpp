// SPDX-License-Identifier: MIT
// Tests of the session policy: affinity, spread, the consistent-hashing property, load fallback.
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/dispatch/session_policy.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace {

namespace d = planetserve::dispatch;
using planetserve::tokenize::token_id;

d::policy_config config(std::size_t nodes) {
  d::policy_config c;
  c.nodes = nodes;
  c.seed = 1;
  c.explain_matches = false;
  return c;
}

const std::vector<token_id> tokens(32, 5);

d::request_view req(std::uint64_t session) {
  d::request_view r{tokens};
  r.session = session;
  return r;
}

std::uint64_t key(std::size_t i) { return d::session_key("session-" + std::to_string(i)); }

}  // namespace

TEST_CASE("session policy: a session's requests go to one node, by rule session-home", "[dispatch][session]") {
  d::session_policy p(config(4));
  CHECK(p.name() == "session");
  for (std::size_t s = 0; s < 50; ++s) {
    const auto first = p.choose(req(key(s)));
    REQUIRE(first.node < 4);
    CHECK(first.fired == d::rule::session_home);
    CHECK(first.node == p.home_of(key(s)));
    for (int turn = 0; turn < 3; ++turn) CHECK(p.choose(req(key(s))).node == first.node);
  }
  CHECK(d::to_string(d::rule::session_home) == "session-home");
  CHECK(d::to_string(d::rule::session_fallback) == "session-fallback");
  CHECK(d::session_key("") != 0);
  CHECK(d::session_key("a") != d::session_key("b"));
}

TEST_CASE("session policy: 10k sessions spread evenly over 8 nodes", "[dispatch][session]") {
  d::session_policy p(config(8));
  std::array<double, 8> count{};
  const std::size_t n = 10'000;
  for (std::size_t s = 0; s < n; ++s) ++count[p.home_of(key(s))];
  const double expected = static_cast<double>(n) / 8;
  double chi2 = 0;
  for (double c : count) {
    chi2 += (c - expected) * (c - expected) / expected;
    // 160 points per node give each node a ring share within about 8% (one sd) of 1/8.
    CHECK(c > 0.75 * expected);
    CHECK(c < 1.25 * expected);
  }
  // Pure sampling noise alone would give chi2 ~ 7 (7 degrees of freedom); the ring's uneven
  // arcs add about 10000/8 * 0.08^2 * 8 = 64. A bad hash (all on a few nodes) gives thousands.
  CHECK(chi2 < 150);
}

TEST_CASE("session policy: a node that leaves moves only its own sessions", "[dispatch][session]") {
  d::session_policy p(config(8));
  std::vector<d::node_index> before;
  for (std::size_t s = 0; s < 2000; ++s) before.push_back(p.choose(req(key(s))).node);
  p.set_available(3, false);
  std::size_t moved = 0;
  for (std::size_t s = 0; s < 2000; ++s) {
    const auto dec = p.choose(req(key(s)));
    CHECK(dec.node != 3);
    if (before[s] == 3) {
      ++moved;
      CHECK(dec.fired == d::rule::session_fallback);
    } else {
      CHECK(dec.node == before[s]);
      CHECK(dec.fired == d::rule::session_home);
    }
  }
  CHECK(moved > 150);  // node 3 had about an eighth of them
  // Node 3's sessions spread over several nodes (next points clockwise), not onto one.
  std::array<int, 8> where{};
  for (std::size_t s = 0; s < 2000; ++s)
    if (before[s] == 3) ++where[p.choose(req(key(s))).node];
  int receivers = 0;
  for (int w : where) receivers += w > 0;
  CHECK(receivers >= 4);
  // Back: every session is home again.
  p.set_available(3, true);
  for (std::size_t s = 0; s < 2000; ++s) CHECK(p.choose(req(key(s))).node == before[s]);
}

TEST_CASE("session policy: an overloaded home passes its sessions to the next node on the ring",
          "[dispatch][session]") {
  auto c = config(4);
  c.session.balance_abs = 2;
  c.session.balance_rel = 1.5;
  d::session_policy p(c);
  const std::uint64_t s = key(1);
  const auto home = p.home_of(s);
  // Three in flight on home, none elsewhere: 3 - 0 > 2 and 3 > 1.5 * 0: overloaded.
  for (int i = 0; i < 2; ++i) p.on_dispatched(home, req(s));
  CHECK(p.choose(req(s)).node == home);  // 2 - 0 is not above 2
  p.on_dispatched(home, req(s));
  const auto spill = p.choose(req(s));
  CHECK(spill.fired == d::rule::session_fallback);
  CHECK(spill.node != home);
  CHECK(spill.load_score[home] == 3);
  // The spill-over node is stable: the next acceptable one clockwise, the same every time.
  CHECK(p.choose(req(s)).node == spill.node);
  // Once the rest of the fleet is busy too, the ratio is small and home is fine again.
  for (d::node_index n = 0; n < 4; ++n)
    if (n != home)
      for (int i = 0; i < 2; ++i) p.on_dispatched(n, req(0));
  CHECK(p.choose(req(s)).node == home);  // 3 vs 2: gap 1
  // Finishing brings it back without any state of its own.
  p.reset();
  CHECK(p.choose(req(s)).node == home);
}

TEST_CASE("session policy: no session goes to the fewest in flight; bad settings are refused",
          "[dispatch][session]") {
  auto p = d::make_policy("session", config(3));
  REQUIRE(p);
  p->on_dispatched(0, req(0));
  p->on_dispatched(1, req(0));
  const auto dec = p->choose(req(0));
  CHECK(dec.node == 2);
  CHECK(dec.fired == d::rule::fewest_in_flight);
  auto bad = config(3);
  bad.session.virtual_nodes = 0;
  planetserve::diagnostics diag;
  CHECK(d::check(bad, diag) == planetserve::error::invalid_argument);
  CHECK(diag.message == "session.virtual_nodes: must be at least 1");
  bad = config(3);
  bad.session.balance_rel = 0.5;
  diag.clear();
  CHECK(d::check(bad, diag) == planetserve::error::invalid_argument);
  CHECK(diag.message == "session.balance_rel: must be at least 1");
}
