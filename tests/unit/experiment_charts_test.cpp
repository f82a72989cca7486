// SPDX-License-Identifier: MIT
// Tests for the run's and the comparison's charts: names, window ratios and rates on hand-made
// timelines, gaps where scrapes are missing, per-request series and the arrival histogram.
#include <planetserve/experiment/run_charts.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace ex = planetserve::experiment;

namespace {

const ex::chart& find_chart(const std::vector<ex::chart>& charts, const std::string& name) {
  for (const auto& c : charts)
    if (c.name == name) return c;
  FAIL("no chart " << name);
  return charts.front();
}

ex::node_sample counters(double t, double queries, double hits, double gen, double ok) {
  ex::node_sample s;
  s.t_s = t;
  s.snap.prefix_cache_queries = queries;
  s.snap.prefix_cache_hits = hits;
  s.snap.generation_tokens = gen;
  s.snap.request_success = ok;
  s.snap.kv_cache_usage = t / 10;
  s.snap.num_running = t;
  s.snap.num_waiting = 1;
  return s;
}

/// node_0 misses its scrape at t=2; node_1 is scraped every second.
std::vector<ex::node_timeline> timelines() {
  std::vector<ex::node_timeline> t(2);
  t[0].name = "node_0";
  t[0].samples = {counters(0, 0, 0, 0, 0), counters(1, 100, 50, 10, 1), counters(3, 300, 250, 50, 5),
                  counters(4, 300, 250, 60, 6)};
  t[1].name = "node_1";
  for (int i = 0; i <= 4; ++i) t[1].samples.push_back(counters(i, 40.0 * i, 10.0 * i, 5.0 * i, 0));
  return t;
}

ex::request_record req(std::size_t q, std::size_t epoch, double sent, double ttft, double e2e,
                       std::uint32_t tokens, bool ok = true) {
  ex::request_record r;
  r.query_id = q;
  r.epoch = epoch;
  r.node = 0;
  r.scheduled_s = sent;
  r.sent_s = sent;
  r.first_token_s = sent + ttft;
  r.finished_s = sent + e2e;
  r.completion_tokens = tokens;
  r.ok = ok;
  return r;
}

void check_points(const ex::plot_series& s, const std::vector<std::pair<double, double>>& want) {
  INFO("series " << s.title);
  REQUIRE(s.points.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("point " << i);
    CHECK(s.points[i].first == Approx(want[i].first));
    if (std::isnan(want[i].second))
      CHECK(std::isnan(s.points[i].second));
    else
      CHECK(s.points[i].second == Approx(want[i].second));
  }
}

constexpr double gap = ex::missing;

}  // namespace

TEST_CASE("experiment: run charts are the seed's seven plus KV usage and node load", "[experiment][charts]") {
  const auto charts = ex::run_charts({}, timelines(), 1.0);
  std::vector<std::string> names;
  for (const auto& c : charts) names.push_back(c.name);
  CHECK(names == std::vector<std::string>{"latency_stats", "ttft_stats", "tpot_stats", "prefix_hit_rate",
                                          "prefix_hit_ratio_cumulative", "arrival_distribution", "token_throughput",
                                          "request_throughput", "kv_cache_usage", "node_load"});
  for (const auto& c : charts) {
    INFO(c.name);
    CHECK_FALSE(c.title.empty());
    CHECK_FALSE(c.x_label.empty());
    CHECK_FALSE(c.y_label.empty());
  }
  // Titles say where the numbers come from.
  CHECK(find_chart(charts, "ttft_stats").title.find("client-side") != std::string::npos);
  CHECK(find_chart(charts, "prefix_hit_rate").title.find("/metrics") != std::string::npos);
}

TEST_CASE("experiment: prefix hit rate chart is Δhits/Δqueries per window with gaps", "[experiment][charts]") {
  const auto charts = ex::run_charts({}, timelines(), 1.0);
  const auto& c = find_chart(charts, "prefix_hit_rate");
  REQUIRE(c.series.size() == 2);
  CHECK(c.series[0].title == "node_0");
  // t=1: 50/100. t=2: no scrape since t=1 -> gap. t=3: over (1,3]: 200/200, though the cumulative
  // ratio is 250/300. t=4: no queries in the window -> gap, not 0.
  check_points(c.series[0], {{1, 0.5}, {2, gap}, {3, 1.0}, {4, gap}});
  check_points(c.series[1], {{1, 0.25}, {2, 0.25}, {3, 0.25}, {4, 0.25}});

  // Half-second windows over the same scrapes: every other window has no new scrape.
  const auto half = ex::run_charts({}, timelines(), 0.5);
  const auto& h = find_chart(half, "prefix_hit_rate");
  REQUIRE(h.series[1].points.size() == 8);
  CHECK(std::isnan(h.series[1].points[0].second));  // t=.5: at(0) and at(.5) are the same scrape
  CHECK(h.series[1].points[1].second == Approx(0.25));  // t=1: (0, 1]
}

TEST_CASE("experiment: throughput charts sum per-node rates, gap only where no node has data", "[experiment][charts]") {
  const auto charts = ex::run_charts({}, timelines(), 1.0);
  const auto& tok = find_chart(charts, "token_throughput");
  REQUIRE(tok.series.size() == 1);
  // node_0: 10/1, -, (50-10)/2, 10/1; node_1: 5 tokens/s throughout.
  check_points(tok.series[0], {{1, 15}, {2, 5}, {3, 25}, {4, 15}});
  const auto& req = find_chart(charts, "request_throughput");
  check_points(req.series[0], {{1, 1}, {2, 0}, {3, 2}, {4, 1}});

  // One node with a missing scrape: a gap in the fleet line.
  auto only0 = timelines();
  only0.pop_back();
  const auto holes = ex::run_charts({}, only0, 1.0);
  check_points(find_chart(holes, "request_throughput").series[0], {{1, 1}, {2, gap}, {3, 2}, {4, 1}});

  // No scrapes at all: nothing to draw, but the chart still exists.
  const auto none = ex::run_charts({}, {}, 1.0);
  CHECK(find_chart(none, "token_throughput").series.at(0).points.empty());
}

TEST_CASE("experiment: gauge charts plot every scrape of every node", "[experiment][charts]") {
  const auto charts = ex::run_charts({}, timelines(), 1.0);
  const auto& kv = find_chart(charts, "kv_cache_usage");
  REQUIRE(kv.series.size() == 2);
  CHECK(kv.series[1].title == "node_1");
  check_points(kv.series[0], {{0, 0}, {1, 0.1}, {3, 0.3}, {4, 0.4}});  // no point at the gap
  const auto& load = find_chart(charts, "node_load");
  check_points(load.series[0], {{0, 1}, {1, 2}, {3, 4}, {4, 5}});  // running + waiting
}

TEST_CASE("experiment: per-request charts skip failures and draw a running mean", "[experiment][charts]") {
  std::vector<ex::request_record> recs;
  recs.push_back(req(0, 0, 2.0, 0.5, 2.5, 5));   // tpot (2.5-.5)/4 = .5
  recs.push_back(req(1, 0, 0.0, 0.25, 1.0, 1));  // tpot NaN: left out of tpot_stats only
  recs.push_back(req(2, 0, 1.0, 0.75, 1.5, 3));  // tpot .375
  recs.push_back(req(3, 0, 1.5, 9, 9, 3, false));
  const auto charts = ex::run_charts(recs, {}, 1.0);

  const auto& ttft = find_chart(charts, "ttft_stats");
  REQUIRE(ttft.series.size() == 2);
  // Sorted by send time; the failed request is not drawn.
  check_points(ttft.series[0], {{0, 0.25}, {1, 0.75}, {2, 0.5}});
  check_points(ttft.series[1], {{0, 0.25}, {1, 0.5}, {2, 0.5}});
  check_points(find_chart(charts, "latency_stats").series[0], {{0, 1.0}, {1, 1.5}, {2, 2.5}});
  check_points(find_chart(charts, "latency_stats").series[1], {{0, 1.0}, {1, 1.25}, {2, 5.0 / 3}});
  check_points(find_chart(charts, "tpot_stats").series[0], {{1, 0.375}, {2, 0.5}});
  check_points(find_chart(charts, "tpot_stats").series[1], {{1, 0.375}, {2, 0.4375}});
}

TEST_CASE("experiment: arrival histogram counts gaps between sends of the first epoch", "[experiment][charts]") {
  std::vector<ex::request_record> recs;
  // Gaps .5 1 1 2 .5; sends out of order on purpose.
  for (double sent : {4.5, 0.0, 1.5, 0.5, 5.0, 2.5}) recs.push_back(req(0, 0, sent, 0.1, 0.2, 1));
  recs.push_back(req(0, 1, 10.0, 0.1, 0.2, 1));  // later epochs would add gaps of 5 and 10
  recs.push_back(req(1, 1, 20.0, 0.1, 0.2, 1));
  const auto charts = ex::run_charts(recs, {}, 1.0);
  const auto& c = find_chart(charts, "arrival_distribution");
  REQUIRE(c.series.size() == 1);
  // 5 bins (the minimum) of width 2/5 up to the largest gap: [0,.4) [.4,.8) [.8,1.2) [1.2,1.6) [1.6,2].
  check_points(c.series[0], {{0.2, 0}, {0.6, 2}, {1.0, 2}, {1.4, 0}, {1.8, 1}});
  CHECK(c.box_width == Approx(0.36));
}

TEST_CASE("experiment: comparison charts put policies side by side", "[experiment][charts]") {
  std::vector<ex::run_summary> runs(2);
  runs[0].policy = "rr";
  runs[0].ttft_mean_s = 1.0;
  runs[0].ttft_p99_s = 2.0;
  runs[0].e2e_mean_s = 3.0;
  runs[0].e2e_p99_s = 4.0;
  runs[0].prefix_hit_ratio = 0.25;
  runs[1].policy = "lb";
  runs[1].ttft_mean_s = 0.5;
  runs[1].prefix_hit_ratio = 0.75;
  const auto charts = ex::comparison_charts(runs);
  REQUIRE(charts.size() == 2);
  CHECK(charts[0].name == "compare_latency");
  CHECK(charts[1].name == "compare_hit_ratio");

  const auto& lat = charts[0];
  CHECK(lat.x_tics == std::vector<std::string>{"rr", "lb"});
  REQUIRE(lat.series.size() == 4);
  CHECK(lat.series[0].title == "TTFT mean");
  CHECK(lat.series[3].title == "E2E p99");
  CHECK(lat.box_width == Approx(0.2));
  // Four bars per policy, centred on the policy's index, not overlapping.
  check_points(lat.series[0], {{-0.3, 1.0}, {0.7, 0.5}});
  check_points(lat.series[1], {{-0.1, 2.0}, {0.9, gap}});
  check_points(lat.series[3], {{0.3, 4.0}, {1.3, gap}});

  const auto& hit = charts[1];
  REQUIRE(hit.series.size() == 1);
  check_points(hit.series[0], {{0, 0.25}, {1, 0.75}});
}

TEST_CASE("experiment: throughput chart counts a counter reset as growth from zero", "[experiment][charts]") {
  std::vector<ex::node_timeline> t(1);
  t[0].name = "node_0";
  // Restarted between t=1 and t=2 (e.g. between epochs): 30 tokens since the restart.
  t[0].samples = {counters(0, 0, 0, 1000, 0), counters(1, 0, 0, 1010, 0), counters(2, 0, 0, 30, 0),
                  counters(3, 0, 0, 50, 0)};
  const auto charts = ex::run_charts({}, t, 1.0);
  check_points(find_chart(charts, "token_throughput").series[0], {{1, 10}, {2, 30}, {3, 20}});
}

TEST_CASE("experiment: cumulative hit ratio has no gaps where windows had none", "[experiment][charts]") {
  const auto charts = ex::run_charts({}, timelines(), 1.0);
  const auto& c = find_chart(charts, "prefix_hit_ratio_cumulative");
  REQUIRE(c.series.size() == 3);  // all nodes, node_0, node_1
  CHECK(c.series[0].title == "all nodes");
  for (const auto& s : c.series)
    for (const auto& [x, y] : s.points) CHECK(std::isfinite(y));
  // At the end: (250 + 40) / (300 + 160) over both nodes; node_0 alone 250/300.
  CHECK(c.series[0].points.back().second == Approx(290.0 / 460.0));
  CHECK(c.series[1].points.back().second == Approx(250.0 / 300.0));
  // Between t=1 and t=3 node_0's last reading stays (50/100) where the window chart has a gap.
  const auto mid = std::find_if(c.series[1].points.begin(), c.series[1].points.end(),
                                [](auto& p) { return p.first >= 2.0; });
  REQUIRE(mid != c.series[1].points.end());
  CHECK(mid->second == Approx(0.5));
}

TEST_CASE("experiment: comparison record charts draw a TTFT CDF and a hit-ratio line per policy", "[experiment][charts]") {
  std::vector<ex::request_record> a{req(0, 0, 0, 0.3, 1, 5), req(1, 0, 1, 0.1, 1, 5), req(2, 0, 2, 0.2, 1, 5),
                                    req(3, 0, 3, 9.0, 1, 5, false)};
  std::vector<ex::request_record> b{req(0, 0, 0, 0.05, 1, 5)};
  const auto tl = timelines();
  std::vector<ex::labelled_run> runs{{"rr", a, tl}, {"lb", b, tl}};
  const auto charts = ex::comparison_record_charts(runs);
  REQUIRE(charts.size() == 2);
  const auto& cdf = find_chart(charts, "compare_ttft_cdf");
  REQUIRE(cdf.series.size() == 2);
  CHECK(cdf.series[0].title == "rr");
  // Failed requests are left out; the CDF rises to 1 at the largest TTFT.
  check_points(cdf.series[0], {{0.1, 0}, {0.1, 1.0 / 3}, {0.2, 2.0 / 3}, {0.3, 1}});
  CHECK(find_chart(charts, "compare_hit_ratio_over_time").series[1].title == "lb");
}

TEST_CASE("experiment: beyond 32 nodes per-node figures become percentile bands", "[experiment][charts]") {
  std::vector<ex::node_timeline> many(40);
  for (std::size_t k = 0; k < many.size(); ++k) {
    many[k].name = "node_" + std::to_string(k);
    for (int t = 0; t <= 4; ++t) {
      auto s = counters(t, 10.0 * t, 5.0 * t, 0, 0);
      s.snap.num_running = static_cast<double>(k);  // node k runs k requests
      s.snap.num_waiting = 0;
      many[k].samples.push_back(s);
    }
  }
  const auto charts = ex::run_charts({}, many, 1.0);
  const auto& load = find_chart(charts, "node_load");
  REQUIRE(load.series.size() == 4);
  CHECK(load.series[1].title == "median of nodes");
  CHECK(load.series[3].points.back().second == Approx(39));  // max
  CHECK(load.series[1].points.back().second == Approx(19.5));
  CHECK(find_chart(charts, "prefix_hit_rate").series.size() == 4);
  CHECK(find_chart(charts, "prefix_hit_ratio_cumulative").series.size() == 1);  // the fleet line only
  // At 32 nodes, still one line per node.
  many.resize(32);
  CHECK(find_chart(ex::run_charts({}, many, 1.0), "node_load").series.size() == 32);
}
