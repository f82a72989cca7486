// SPDX-License-Identifier: MIT
// Tests for report.html and its SVG charts: self-contained, escaped, numbers as in summary.json.
#include <planetserve/experiment/html_report.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/svg_chart.hpp>

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace ex = planetserve::experiment;

namespace {

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

ex::run_summary hostile_summary() {
  ex::run_summary s;
  s.policy = "lb";
  s.dataset = "<img src=x onerror=alert(1)>";
  s.requests = 10;
  s.ok = 9;
  s.failed = 1;
  s.ttft_p99_s = 0.123456789;
  s.request_throughput = 3.5;
  s.failures["server said <b>no</b>"] = 1;
  ex::node_summary n;
  n.name = "node_0";
  n.url = "http://h/\"><script>alert(1)</script>";
  s.nodes.push_back(n);
  return s;
}

}  // namespace

TEST_CASE("svg chart: lines break at gaps, text is escaped, an empty chart says so", "[report][html]") {
  ex::chart c{"x", "TTFT <b>&</b>", "time (s)", "ms", {}};
  c.series.push_back({"node \"0\"", {{0, 1}, {1, 2}, {2, std::nan("")}, {3, 1}, {4, 3}}, ex::plot_style::lines});
  const auto svg = ex::svg_chart(c);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("TTFT &lt;b&gt;&amp;&lt;/b&gt;") != std::string::npos);
  CHECK(svg.find("node &quot;0&quot;") != std::string::npos);
  CHECK(svg.find("<b>") == std::string::npos);
  // Two pieces of line: the missing value is a gap, not a drop to zero.
  const auto d = svg.substr(svg.find("<path d=\""));
  CHECK(count(d.substr(0, d.find("\" fill")), "M") == 2);

  ex::chart empty{"e", "nothing", "x", "y", {}};
  CHECK(ex::svg_chart(empty).find("no data") != std::string::npos);

  // Bars on categories: one rect per bar (plus the background and the frame).
  ex::chart bars{"b", "bars", "policy", "s", {}};
  bars.x_tics = {"rr", "lb"};
  bars.series.push_back({"p99", {{0, 1.0}, {1, 2.0}}, ex::plot_style::boxes});
  const auto bsvg = ex::svg_chart(bars);
  CHECK(count(bsvg, "fill-opacity") == 2);
  CHECK(bsvg.find(">rr<") != std::string::npos);
}

TEST_CASE("run report: self-contained, escaped, every number as summary.json has it", "[report][html]") {
  const auto s = hostile_summary();
  ex::report_context ctx;
  ctx.title = "pswm run";
  ctx.configuration = ex::facts_of_json(R"({"dataset_file":"a</td>b.jsonl","maxq":50,"policies":["lb"]})");
  ctx.emulator = {{"profile", "llama-3.1-8b-a100-80gb"}};
  std::vector<ex::chart> charts{{"c", "a chart", "x", "y", {{"s", {{0, 0}, {1, 1}}, ex::plot_style::lines}}}};
  const auto html = ex::run_report_html(s, charts, ctx);
  CHECK(html.find("Content-Security-Policy") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("src=\"") == std::string::npos);  // no attribute fetches anything (the escaped text may say src=)
  CHECK(html.find("&lt;script&gt;") != std::string::npos);
  CHECK(html.find("server said &lt;b&gt;no&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("a&lt;/td&gt;b.jsonl") != std::string::npos);
  CHECK(html.find("llama-3.1-8b-a100-80gb") != std::string::npos);
  CHECK(count(html, "<svg") == 1);
  // Every summary cell shows summary.json's value to 6 significant digits.
  const auto j = boost::json::parse(ex::summary_json(s)).as_object();
  std::size_t checked = 0;
  for (auto key : ex::report_summary_keys()) {
    const auto* v = j.if_contains(key);
    if (!v) continue;
    const std::string cell = "data-key=\"" + std::string(key) + "\">";
    const auto at = html.find(cell);
    INFO(key);
    REQUIRE(at != std::string::npos);
    const auto shown = html.substr(at + cell.size(), html.find('<', at + cell.size()) - at - cell.size());
    if (v->is_null()) {
      CHECK(shown == "-");
    } else {
      char buf[48];
      std::snprintf(buf, sizeof buf, "%.6g", v->to_number<double>());
      CHECK(shown == buf);
    }
    ++checked;
  }
  CHECK(checked > 15);
  CHECK(html.find(">0.123457<") != std::string::npos);
}

TEST_CASE("comparison and sweep reports: a column per policy; points link their runs", "[report][html]") {
  auto a = hostile_summary();
  auto b = hostile_summary();
  b.policy = "rr";
  std::vector<ex::run_summary> runs{a, b};
  ex::report_context ctx;
  ctx.title = "cmp";
  const auto cmp = ex::comparison_report_html(runs, {}, ctx);
  CHECK(count(cmp, "data-key=\"ttft_p99_s\"") == 2);
  CHECK(cmp.find("<th>rr</th>") != std::string::npos);
  CHECK(cmp.find("Real servers") != std::string::npos);

  ex::sweep_point p;
  p.policy = "lb";
  p.rate_rps = 4;
  p.run_dir = "lb/rate_4/log_x_0.25";
  p.summary = a;
  p.slo_met = false;
  p.slo_violations = {"p99_ttft_ms 812 > 500"};
  std::vector<ex::sweep_point> pts{p};
  ex::slo_result r;
  r.policy = "lb";
  r.end = ex::slo_search_end::lowest_fails;
  r.first_fail_rps = 4;
  r.first_fail_run = p.run_dir;
  std::vector<ex::slo_result> rs{r};
  ex::slo_spec spec{{{"p99_ttft_ms", true, 500}}};
  const auto sw = ex::sweep_report_html(pts, spec, rs, {}, ctx);
  CHECK(sw.find("href=\"lb/rate_4/log_x_0.25/\"") != std::string::npos);
  CHECK(sw.find("p99_ttft_ms 812 &gt; 500") != std::string::npos);
  CHECK(sw.find("none: the lowest rate fails") != std::string::npos);
}

TEST_CASE("report facts: a JSON object's members in order; anything else says it is unreadable", "[report][html]") {
  const auto f = ex::facts_of_json(R"({"b":1,"a":"x","c":[1,2]})");
  REQUIRE(f.size() == 3);
  CHECK(f[0] == std::pair<std::string, std::string>{"b", "1"});
  CHECK(f[1].second == "x");
  CHECK(f[2].second == "[1,2]");
  CHECK(ex::facts_of_json("not json").front().second.find("not readable") != std::string::npos);
}
