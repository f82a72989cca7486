// SPDX-License-Identifier: MIT
// Tests for percentiles and the gnuplot chart writer.
#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/stats.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

namespace fs = std::filesystem;
namespace ex = planetserve::experiment;

TEST_CASE("experiment: a percentile by selection is the sorted one, whatever the order and size",
          "[experiment][stats]") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (const std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{100}, std::size_t{10007}}) {
    std::vector<double> v(n);
    for (auto& x : v) x = u(rng) < 0.1 ? 0.25 : u(rng);  // ties too
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    for (const double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
      std::vector<double> w = v;
      CAPTURE(n, p);
      CHECK(ex::percentile_select(w, p) == ex::percentile_sorted(sorted, p));
    }
  }
  std::vector<double> none;
  CHECK(std::isnan(ex::percentile_select(none, 99)));
}

TEST_CASE("experiment: percentiles interpolate like numpy", "[experiment][stats]") {
  const std::vector<double> v{15, 20, 35, 40, 50};
  CHECK(ex::percentile(v, 0) == 15);
  CHECK(ex::percentile(v, 100) == 50);
  CHECK(ex::percentile(v, 50) == 35);
  CHECK(ex::percentile(v, 40) == Approx(29.0));   // numpy.percentile([15,20,35,40,50], 40)
  CHECK(ex::percentile(v, 99) == Approx(49.6));
  CHECK(ex::mean(v) == Approx(32.0));
  CHECK(std::isnan(ex::percentile(std::vector<double>{}, 50)));
  CHECK(std::isnan(ex::mean(std::vector<double>{})));
  CHECK(ex::percentile(std::vector<double>{7}, 99) == 7);
}

TEST_CASE("experiment: gnuplot script holds the data inline and marks gaps", "[experiment][plot]") {
  ex::chart c{.name = "ttft_stats", .title = "TTFT", .x_label = "time (s)", .y_label = "TTFT (s)"};
  c.series.push_back({"node 0", {{0, 0.5}, {1, std::nan("")}, {2, 0.25}}, ex::plot_style::lines});
  const auto s = ex::gnuplot_script(c, "x.png");
  CHECK(s.find("set output 'x.png'") != std::string::npos);
  CHECK(s.find("0.0 0.5\n\n2.0 0.25\n") != std::string::npos);
  CHECK(s.find("title 'node 0'") != std::string::npos);

  ex::chart empty{.name = "e", .title = "nothing"};
  CHECK(ex::gnuplot_script(empty, "e.png").find("no data") != std::string::npos);
}

TEST_CASE("experiment: render_chart writes a PNG when gnuplot is installed", "[experiment][plot]") {
  const auto gnuplot = ex::find_gnuplot();
  if (gnuplot.empty()) {
    WARN("gnuplot not installed: only the script is checked");
  }
  std::random_device rd;
  const auto dir = fs::temp_directory_path() / ("pswm-plot-" + std::to_string(rd()));
  fs::create_directories(dir);
  ex::chart c{.name = "latency_stats", .title = "Latency", .x_label = "request", .y_label = "s"};
  ex::plot_series s{"e2e", {}, ex::plot_style::points};
  for (int i = 0; i < 50; ++i) s.points.emplace_back(i, 0.1 * (i % 7));
  c.series.push_back(s);
  planetserve::diagnostics diag;
  REQUIRE(!ex::render_chart(c, dir, gnuplot, diag));
  CHECK(fs::exists(dir / "latency_stats.gp"));
  if (!gnuplot.empty()) {
    std::ifstream png(dir / "latency_stats.png", std::ios::binary);
    char sig[8] = {};
    png.read(sig, 8);
    CHECK(std::string(sig + 1, 3) == "PNG");
  }
  fs::remove_all(dir);
}

TEST_CASE("experiment: a gnuplot that fails or cannot start is plot_failed, not a file error", "[experiment][plot]") {
  std::random_device rd;
  const auto dir = fs::temp_directory_path() / ("pswm-plot-" + std::to_string(rd()));
  fs::create_directories(dir);
  ex::chart c{.name = "gaps", .title = "Gaps", .x_label = "s", .y_label = "count"};
  planetserve::diagnostics diag;
  // `false` exits 1 as a gnuplot that choked on the script would.
  CHECK(ex::render_chart(c, dir, "/bin/false", diag) == planetserve::error::plot_failed);
  CHECK(diag.message.find("gnuplot failed on") == 0);
  CHECK(fs::exists(dir / "gaps.gp"));  // the script is written all the same
  diag.clear();
  CHECK(ex::render_chart(c, dir, dir / "no-such-gnuplot", diag) == planetserve::error::plot_failed);
  CHECK(diag.message.find("cannot run") == 0);
  fs::remove_all(dir);
}
