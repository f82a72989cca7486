// SPDX-License-Identifier: MIT
// Tests for load sweeps and SLO searches: the rate list, SLO expressions and checks, the search's steps, downsampling, the driver on the emulator.
#include <planetserve/experiment/downsample.hpp>
#include <planetserve/experiment/svg_chart.hpp>
#include <planetserve/experiment/slo.hpp>
#include <planetserve/experiment/sweep.hpp>
#include <planetserve/experiment/sweep_runner.hpp>
#include <planetserve/sim/fleet.hpp>
#include <planetserve/sim/profile.hpp>

#include "unit/reliability_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace ex = planetserve::experiment;
namespace sim = planetserve::sim;
namespace rt = reliability_test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string load_error(std::string_view text, std::string_view flag) {
  ps::diagnostics diag;
  auto r = ex::parse_load_list(text, flag, diag);
  REQUIRE_FALSE(r.has_value());
  return diag.message;
}

std::string slo_error(std::string_view text) {
  ps::diagnostics diag;
  auto r = ex::parse_slo(text, diag);
  REQUIRE_FALSE(r.has_value());
  return diag.message;
}

ex::slo_spec slo(std::string_view text) {
  ps::diagnostics diag;
  auto r = ex::parse_slo(text, diag);
  INFO(diag.message);
  REQUIRE(r.has_value());
  return *r;
}

// Runs a search against a system that meets the SLO below `capacity` req/s; returns the rates tried.
std::vector<double> search_steps(ex::slo_search& s, double capacity) {
  std::vector<double> tried;
  while (auto r = s.next_rate()) {
    tried.push_back(*r);
    s.record(*r <= capacity);
    REQUIRE(tried.size() < 100);
  }
  return tried;
}

}  // namespace

TEST_CASE("sweep: a load list gives increasing rates; intervals become rates", "[sweep]") {
  ps::diagnostics diag;
  auto rates = ex::parse_load_list("1, 2,4,8,16", "--request-rate", diag);
  REQUIRE(rates.has_value());
  CHECK(*rates == std::vector<double>{1, 2, 4, 8, 16});
  auto from_intervals = ex::parse_load_list("1,0.5,0.25", "--average-interval", diag);
  REQUIRE(from_intervals.has_value());
  CHECK(*from_intervals == std::vector<double>{1, 2, 4});
  auto one = ex::parse_load_list("0.5", "--average-interval", diag);
  REQUIRE(one.has_value());
  CHECK(*one == std::vector<double>{2});
}

TEST_CASE("sweep: a bad load list names the flag, what is wrong and an example", "[sweep]") {
  const auto empty = load_error("", "--request-rate");
  CHECK(empty.find("--request-rate") != std::string::npos);
  CHECK(empty.find("empty") != std::string::npos);
  CHECK(empty.find("e.g.") != std::string::npos);
  CHECK(load_error("4,2,8", "--request-rate").find("must increase") != std::string::npos);
  CHECK(load_error("2,2", "--request-rate").find("must increase") != std::string::npos);
  CHECK(load_error("0.25,0.5", "--average-interval").find("must decrease") != std::string::npos);
  CHECK(load_error("1,,2", "--request-rate").find("empty entry") != std::string::npos);
  CHECK(load_error("1,fast", "--request-rate").find("'fast' is not a positive number") != std::string::npos);
  CHECK(load_error("0", "--request-rate").find("not a positive number") != std::string::npos);
  CHECK(load_error("1,inf", "--request-rate").find("not a positive number") != std::string::npos);
}

TEST_CASE("slo: expressions are read and written back; bad ones say what is wrong", "[sweep][slo]") {
  const auto s = slo(" p99_ttft_ms <= 500, p99_tpot_ms<=50,request_throughput>=2");
  REQUIRE(s.constraints.size() == 3);
  CHECK(s.constraints[0].metric == "p99_ttft_ms");
  CHECK(s.constraints[0].at_most);
  CHECK(s.constraints[0].bound == 500);
  CHECK_FALSE(s.constraints[2].at_most);
  CHECK(ex::to_string(s) == "p99_ttft_ms<=500,p99_tpot_ms<=50,request_throughput>=2");
  CHECK(ex::to_string(slo(ex::to_string(s))) == ex::to_string(s));

  CHECK(slo_error("p99_latency<=5").find("unknown metric 'p99_latency'") != std::string::npos);
  CHECK(slo_error("p99_ttft_ms<500").find("needs exactly one <= or >=") != std::string::npos);
  CHECK(slo_error("p99_ttft_ms<=fast").find("must be a number") != std::string::npos);
  CHECK(slo_error("p99_ttft_ms<=").find("must be a number") != std::string::npos);
  CHECK(slo_error("").find("no METRIC<=VALUE") != std::string::npos);
  CHECK(slo_error("p99_ttft_ms<=1,,p99_tpot_ms<=2").find("empty part") != std::string::npos);
  CHECK(slo_error("p99_ttft_ms<=1,p99_ttft_ms<=2").find("given twice") != std::string::npos);
  CHECK(slo_error("x<=1").find("e.g.") != std::string::npos);
}

TEST_CASE("slo: a run is checked on every constraint, in the SLO's units", "[sweep][slo]") {
  ex::run_summary s;
  s.ok = 10;
  s.requests = 10;
  s.ttft_p99_s = 0.4;
  s.tpot_p99_s = 0.06;
  CHECK(ex::slo_violations(s, slo("p99_ttft_ms<=500")).empty());
  const auto v = ex::slo_violations(s, slo("p99_ttft_ms<=500,p99_tpot_ms<=50"));
  REQUIRE(v.size() == 1);
  CHECK(v[0] == "p99_tpot_ms 60 > 50");
  // A value the run lacks (no goodput measured) breaks the SLO rather than passing it.
  CHECK(ex::slo_violations(s, slo("goodput>=1")).size() == 1);
  s.goodput = 3.0;
  CHECK(ex::slo_violations(s, slo("goodput>=1")).empty());
  // Nothing completed: never met, whatever the numbers say.
  s.ok = 0;
  CHECK_FALSE(ex::slo_violations(s, slo("p99_ttft_ms<=500")).empty());
}

TEST_CASE("slo search: doubles until a run fails, then bisects to the tolerance", "[sweep][slo]") {
  ex::slo_search s(1, 64, 0.1);
  const auto tried = search_steps(s, 5.3);
  CHECK(tried == std::vector<double>{1, 2, 4, 8, 6, 5, 5.5});
  CHECK(s.end() == ex::slo_search_end::found);
  CHECK(*s.last_pass() == 5);
  CHECK(*s.first_fail() == 5.5);
  CHECK(s.runs() == 7);
  // A smaller tolerance takes more steps and lands closer.
  ex::slo_search fine(1, 64, 0.01);
  search_steps(fine, 5.3);
  CHECK(*fine.first_fail() - *fine.last_pass() <= 0.01 * *fine.last_pass());
  CHECK(*fine.last_pass() <= 5.3);
  CHECK(*fine.first_fail() > 5.3);
}

TEST_CASE("slo search: the lowest rate failing and the highest passing end the search and say so", "[sweep][slo]") {
  ex::slo_search low(2, 64, 0.1);
  CHECK(search_steps(low, 1) == std::vector<double>{2});
  CHECK(low.end() == ex::slo_search_end::lowest_fails);
  CHECK_FALSE(low.last_pass());
  CHECK(*low.first_fail() == 2);

  ex::slo_search high(1, 10, 0.1);
  CHECK(search_steps(high, 100) == std::vector<double>{1, 2, 4, 8, 10});  // capped at the highest
  CHECK(high.end() == ex::slo_search_end::highest_passes);
  CHECK(*high.last_pass() == 10);
  CHECK_THROWS(ex::slo_search(1, 10, 0));
}

TEST_CASE("downsample: long series shrink to the limit, keeping peaks, gaps and both ends", "[sweep][plot]") {
  std::vector<std::pair<double, double>> pts;
  for (int i = 0; i < 100000; ++i) pts.emplace_back(i, std::sin(i * 0.001));
  pts[51234].second = 50;  // one spike
  pts[70000].second = std::nan("");
  const auto d = ex::downsample(pts, 2000);
  CHECK(d.size() <= 2000);
  CHECK(d.size() > 1000);
  CHECK(d.front() == pts.front());
  CHECK(d.back() == pts.back());
  CHECK(std::find(d.begin(), d.end(), pts[51234]) != d.end());
  CHECK(std::count_if(d.begin(), d.end(), [](auto& p) { return std::isnan(p.second); }) == 1);
  CHECK(std::is_sorted(d.begin(), d.end(), [](auto& a, auto& b) { return a.first < b.first; }));
  // Short series are left alone.
  std::vector<std::pair<double, double>> few{{0, 1}, {1, 2}};
  CHECK(ex::downsample(few) == few);
}

TEST_CASE("sweep: curves have one line per policy by rate, without the second seed's reruns", "[sweep]") {
  std::vector<ex::sweep_point> pts;
  auto add = [&](std::string pol, double rate, ex::sweep_purpose why, double ttft, std::uint64_t seed = 0) {
    ex::sweep_point p;
    p.policy = std::move(pol);
    p.rate_rps = rate;
    p.purpose = why;
    p.seed = seed;
    p.summary.ok = p.summary.requests = 4;
    p.summary.ttft_p50_s = p.summary.ttft_p99_s = ttft;
    pts.push_back(p);
  };
  add("rr", 4, ex::sweep_purpose::sweep, 0.4);
  add("lb", 4, ex::sweep_purpose::sweep, 0.2);
  add("rr", 2, ex::sweep_purpose::search, 0.1);
  add("rr", 3, ex::sweep_purpose::seed_check, 9.0, 1);
  const auto charts = ex::sweep_charts(pts);
  REQUIRE_FALSE(charts.empty());
  const auto& ttft = charts.front();
  CHECK(ttft.name == "sweep_ttft");
  REQUIRE(ttft.series.size() == 4);  // rr p50, rr p99, lb p50, lb p99
  CHECK(ttft.series[0].title == "rr p50");
  REQUIRE(ttft.series[0].points.size() == 2);
  CHECK(ttft.series[0].points[0].first == 2);  // sorted by rate
  CHECK(ttft.series[0].points[1].second == Approx(400));
  CHECK(ttft.series[2].title == "lb p50");
  // One colour per policy, its p99 dashed.
  CHECK(ttft.series[0].colour == ttft.series[1].colour);
  CHECK(ttft.series[2].colour != ttft.series[0].colour);
  CHECK_FALSE(ttft.series[0].dashed);
  CHECK(ttft.series[1].dashed);
  CHECK(ex::gnuplot_script(ttft, "x.png").find("lc 1 dt 2 title 'rr p99'") != std::string::npos);
  CHECK(ex::svg_chart(ttft).find("stroke-dasharray") != std::string::npos);
  for (const auto& c : charts) CHECK(c.name != "sweep_goodput");  // none measured
}

TEST_CASE("sweep: text and json say each policy's SLO answer and how much more load one carries", "[sweep][slo]") {
  std::vector<ex::slo_result> res(2);
  res[0].policy = "rr";
  res[0].end = ex::slo_search_end::found;
  res[0].last_pass_rps = 4;
  res[0].first_fail_rps = 4.25;
  res[0].last_pass_run = "rr/rate_4/log_x_0.25";
  res[0].second_seed = 1;
  res[0].second_seed_last_pass_met = true;
  res[0].second_seed_first_fail_met = true;  // the second seed passes where the first failed
  res[1].policy = "lb";
  res[1].end = ex::slo_search_end::found;
  res[1].last_pass_rps = 10;
  res[1].first_fail_rps = 11;
  const auto spec = slo("p99_ttft_ms<=500");
  const auto text = ex::sweep_text({}, spec, res);
  CHECK(text.find("rr: 4 req/s") != std::string::npos);
  CHECK(text.find("the boundary moves") != std::string::npos);
  CHECK(text.find("lb carries 2.50x the load of rr") != std::string::npos);
  const auto j = boost::json::parse(ex::sweep_json("x", {}, spec, 0.1, res)).as_object();
  CHECK(j.at("slo").as_string() == "p99_ttft_ms<=500");
  const auto& s0 = j.at("slo_search").as_array()[0].as_object();
  CHECK(s0.at("max_rate_rps").as_double() == 4);
  CHECK(s0.at("second_seed").as_object().at("agrees").as_bool() == false);
  res[0].end = ex::slo_search_end::lowest_fails;
  res[0].last_pass_rps.reset();
  res[0].second_seed_last_pass_met.reset();
  res[0].second_seed_first_fail_met = false;
  // A point stopped by Ctrl-C says so in the table.
  ex::sweep_point stopped;
  stopped.policy = "rr";
  stopped.rate_rps = 2;
  stopped.summary.interrupted = true;
  CHECK(ex::sweep_text(std::vector<ex::sweep_point>{stopped}, std::nullopt, {}).find("interrupted") != std::string::npos);
  const auto low = ex::sweep_text({}, spec, res);
  CHECK(low.find("already breaks it") != std::string::npos);
}

TEST_CASE("sweep runner: every rate with every policy on the emulator, then an SLO search", "[sweep][runner]") {
  rt::temp_dir tmp("sweep");
  asio::io_context io;
  sim::fleet_config fc;
  fc.num_nodes = 2;
  fc.node = sim::node_config::from_profile(*sim::find_profile("instant"));
  sim::fleet fleet(io.get_executor(), fc);
  ps::diagnostics diag;
  REQUIRE_FALSE(fleet.start(diag));
  auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 6), tmp.path / "out");
  cfg.endpoints = fleet.urls();
  cfg.policies = {"rr", "lb"};
  cfg.render_figures = false;
  std::ostringstream log;
  const auto dir = tmp.path / "out" / "sweep_tiny";
  ex::sweep_runner sw(io.get_executor(), cfg, dir, log);
  const std::vector<double> rates{100, 200};
  boost::system::error_code sweep_ec, search_ec;
  bool finished = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sweep_ec = co_await sw.async_sweep(rates, diag);
        // Nothing completes 1e9 requests a second: the lowest rate already fails.
        search_ec = co_await sw.async_slo_search(slo("request_throughput>=1e9"), 100, 200, 0.1, diag);
        co_await fleet.async_shutdown(std::chrono::milliseconds(500));
        finished = true;
      },
      [&](std::exception_ptr) { io.stop(); });
  io.run_for(60s);
  INFO(diag.message << log.str());
  REQUIRE(finished);
  REQUIRE_FALSE(sweep_ec);
  REQUIRE_FALSE(search_ec);
  // 2 rates x 2 policies, then per policy the seed check at the failing lowest rate.
  REQUIRE(sw.points().size() == 6);
  CHECK(sw.points()[0].policy == "rr");
  CHECK(sw.points()[1].policy == "lb");
  CHECK(sw.points()[2].rate_rps == 200);
  for (const auto& p : sw.points()) {
    CHECK(p.summary.ok == 6);
    CHECK(fs::exists(dir / p.run_dir / "requests.jsonl"));
    REQUIRE(p.slo_met.has_value());
    CHECK_FALSE(*p.slo_met);
  }
  CHECK(sw.points()[4].purpose == ex::sweep_purpose::seed_check);
  CHECK(sw.points()[4].seed == cfg.seed + 1);
  REQUIRE(sw.searches().size() == 2);
  for (const auto& s : sw.searches()) {
    CHECK(s.end == ex::slo_search_end::lowest_fails);
    CHECK(s.runs == 1);  // the sweep's point at 100 req/s was reused
    CHECK(*s.first_fail_rps == 100);
    CHECK(s.first_fail_run == (s.policy == "rr" ? sw.points()[0].run_dir : sw.points()[1].run_dir));
  }
  REQUIRE_FALSE(ex::write_sweep_outputs(dir, "tiny", sw.points(), slo("request_throughput>=1e9"), 0.1,
                                        sw.searches(), false, {}, log, diag));
  const auto j = boost::json::parse(rt::slurp(dir / "sweep.json")).as_object();
  CHECK(j.at("points").as_array().size() == 6);
  CHECK(j.at("rates_rps").as_array().size() == 2);
  CHECK(fs::exists(dir / "sweep_ttft.gp"));
  CHECK(rt::slurp(dir / "sweep.txt").find("already breaks it") != std::string::npos);
  const auto html = rt::slurp(dir / "report.html");
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("none: the lowest rate fails") != std::string::npos);
  // Each point's run has its own report.
  CHECK(fs::exists(dir / sw.points()[0].run_dir / "report.html"));
}
