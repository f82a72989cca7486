// SPDX-License-Identifier: MIT
// Tests for counter growth over scrapes: restarts told from bad readings, NaN and missing series skipped.
#include <planetserve/experiment/run_outputs.hpp>
#include <planetserve/experiment/summary.hpp>
#include <planetserve/prom/counter_growth.hpp>
#include <planetserve/prom/vllm_interval.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <vector>

namespace ex = planetserve::experiment;
namespace prom = planetserve::prom;

namespace {

const double nan_v = std::nan("");

prom::counter_growth grow(std::vector<double> v) { return prom::growth_of(v); }

// A node whose lifetime counters start high (ratio 0.897 since it started) and whose run
// adds 1000 queried tokens and 100 hits per scrape: the run's true ratio is 0.100.
ex::node_timeline lifetime_node(const char* name, std::size_t scrapes) {
  ex::node_timeline tl;
  tl.name = name;
  for (std::size_t i = 0; i < scrapes; ++i) {
    ex::node_sample s;
    s.t_s = static_cast<double>(i);
    s.snap.prefix_cache_queries = 1'000'000 + 1000.0 * static_cast<double>(i);
    s.snap.prefix_cache_hits = 897'000 + 100.0 * static_cast<double>(i);
    s.snap.kv_cache_usage = 0.5;
    tl.samples.push_back(s);
  }
  return tl;
}

}  // namespace

TEST_CASE("counter growth: steady growth, a restart, and a dip that comes back", "[prom][counters]") {
  CHECK(grow({10, 20, 35}).growth == 25);
  // A restart: the counter falls and grows again from below where it was.
  auto r = grow({100, 120, 5, 30});
  CHECK(r.growth == 20 + 5 + 25);
  CHECK(r.restarts == 1);
  CHECK(r.skipped == 0);
  // A restart read as 0 at first (no traffic yet), then growing.
  r = grow({100, 0, 0, 7});
  CHECK(r.growth == 7);
  CHECK(r.restarts == 1);
  // One scrape read 0 (or lacked the series), then the counter is back: not a restart.
  r = grow({100, 110, 0, 120});
  CHECK(r.growth == 20);
  CHECK(r.restarts == 0);
  CHECK(r.skipped == 1);
  // Two bad scrapes in a row.
  r = grow({100, 0, 0, 105});
  CHECK(r.growth == 5);
  CHECK(r.skipped == 2);
  // A fall in the last reading, with nothing after it to tell: left out, not a restart.
  r = grow({100, 110, 3});
  CHECK(r.growth == 10);
  CHECK(r.skipped == 1);
}

TEST_CASE("counter growth: NaN and negative readings are skipped and counted, never zero", "[prom][counters]") {
  auto r = grow({100, nan_v, 130});
  CHECK(r.growth == 30);
  CHECK(r.skipped == 1);
  CHECK(r.restarts == 0);
  r = grow({nan_v, 50, -1, 60});
  CHECK(r.growth == 10);
  CHECK(r.skipped == 2);
  r = grow({nan_v, nan_v});
  CHECK(r.growth == 0);
  CHECK(r.skipped == 2);
  // A NaN between the fall and the regrowth does not hide the restart.
  r = grow({100, 4, nan_v, 9});
  CHECK(r.restarts == 1);
  CHECK(r.growth == 9);
}

TEST_CASE("counters: one scrape reading 0 then recovering gives the true hit ratio", "[prom][counters]") {
  auto tl = lifetime_node("node_0", 10);
  // The lifetime ratio is what a lifetime counter added back would drag the answer toward.
  CHECK(tl.samples[0].snap.prefix_cache_hit_ratio() == Approx(0.897));
  tl.samples[4].snap.prefix_cache_queries = 0;
  tl.samples[4].snap.prefix_cache_hits = 0;
  std::vector<ex::node_timeline> tls{tl};
  const auto s = ex::summarize({}, tls);
  CHECK(s.prefix_hit_ratio == Approx(0.100));
  CHECK(s.nodes[0].prefix_hit_ratio == Approx(0.100));
  CHECK(s.nodes[0].skipped_readings == 2);  // the dip, in hits and in queries
}

TEST_CASE("counters: a missing series reads NaN, not 0, and is skipped", "[prom][counters]") {
  // A page that lacks the prefix-cache counters (a scrape that lost them).
  auto without = prom::parse_vllm_snapshot("vllm:num_requests_running{model_name=\"m\"} 1.0\n");
  REQUIRE(without.has_value());
  CHECK(std::isnan(without->prefix_cache_queries));
  CHECK(std::isnan(without->prefix_cache_hits));
  auto with = prom::parse_vllm_snapshot("vllm:prefix_cache_queries_total{model_name=\"m\"} 10.0\n"
                                        "vllm:prefix_cache_hits_total{model_name=\"m\"} 0.0\n");
  REQUIRE(with.has_value());
  CHECK(with->prefix_cache_queries == 10);
  CHECK(with->prefix_cache_hits == 0);  // present and zero stays zero

  auto tl = lifetime_node("node_0", 6);
  tl.samples[2].snap.prefix_cache_queries = without->prefix_cache_queries;
  tl.samples[2].snap.prefix_cache_hits = without->prefix_cache_hits;
  std::vector<ex::node_timeline> tls{tl};
  const auto s = ex::summarize({}, tls);
  CHECK(s.prefix_hit_ratio == Approx(0.100));
  CHECK(s.nodes[0].skipped_readings == 2);
  // Two snapshots around the missing one: no delta, and no restart claimed.
  const auto d = prom::difference(tl.samples[1].snap, tl.samples[2].snap, std::chrono::seconds(1));
  CHECK(std::isnan(d.prefix_cache_queries));
  CHECK_FALSE(d.counter_reset);
}

TEST_CASE("counters: a NaN on one node does not blank the fleet's figures", "[prom][counters]") {
  auto a = lifetime_node("node_0", 6);
  auto b = lifetime_node("node_1", 6);
  b.samples[3].snap.prefix_cache_hits = nan_v;
  b.samples[3].snap.kv_cache_usage = nan_v;
  std::vector<ex::node_timeline> tls{a, b};
  const auto s = ex::summarize({}, tls);
  CHECK(s.prefix_hit_ratio == Approx(0.100));
  CHECK(s.kv_cache_usage_mean == Approx(0.5));
  CHECK(s.nodes[1].prefix_hit_ratio == Approx(0.100));
  CHECK(s.nodes[1].skipped_readings == 2);  // the hits reading and the KV reading
  CHECK(s.nodes[0].skipped_readings == 0);
  std::ostringstream warned;
  ex::warn_skipped_readings(s, warned);
  CHECK(warned.str().find("node_1") != std::string::npos);
  CHECK(warned.str().find("2 /metrics reading(s) left out") != std::string::npos);
  CHECK(warned.str().find("node_0") == std::string::npos);
  // A series no scrape had (no prefix caching at all) is absent, not skipped.
  auto c = lifetime_node("node_2", 3);
  for (auto& smp : c.samples) smp.snap.prefix_cache_hits = smp.snap.prefix_cache_queries = nan_v;
  std::vector<ex::node_timeline> one{c};
  const auto s2 = ex::summarize({}, one);
  CHECK(std::isnan(s2.prefix_hit_ratio));
  CHECK(s2.nodes[0].skipped_readings == 0);
}
