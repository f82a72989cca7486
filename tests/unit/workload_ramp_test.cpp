// SPDX-License-Identifier: MIT
// Tests for ramped arrivals: a linear request rate from R0 to R1 by time rescaling, and parse_ramp.
#include <planetserve/workload/arrivals.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

namespace wl = planetserve::workload;

namespace {

std::vector<double> ramp_seconds(std::size_t n, double r0, double r1, wl::arrival_process p) {
  wl::arrival_config ac;
  ac.process = p;
  ac.seed = 7;
  ac.ramp_start_rps = r0;
  ac.ramp_end_rps = r1;
  planetserve::diagnostics diag;
  auto times = wl::make_arrivals(n, ac, diag);
  INFO(diag.message);
  REQUIRE(times.has_value());
  std::vector<double> s;
  for (auto t : *times) s.push_back(std::chrono::duration<double>(t).count());
  return s;
}

// Requests per second in [from, to).
double rate_in(const std::vector<double>& t, double from, double to) {
  const auto k = std::count_if(t.begin(), t.end(), [&](double x) { return x >= from && x < to; });
  return static_cast<double>(k) / (to - from);
}

}  // namespace

TEST_CASE("ramp: a Poisson ramp's empirical rate starts near R0 and ends near R1", "[workload][arrivals][ramp]") {
  const double r0 = GENERATE(2.0, 20.0);
  const double r1 = r0 == 2.0 ? 20.0 : 2.0;  // up and down
  INFO("ramp " << r0 << " -> " << r1);
  const std::size_t n = 20000;
  const auto t = ramp_seconds(n, r0, r1, wl::arrival_process::poisson);
  REQUIRE(t.size() == n);
  CHECK(t.front() == 0.0);
  CHECK(std::is_sorted(t.begin(), t.end()));
  // The ramp lasts 2(n-1)/(R0+R1) s; over a tenth of it the linear rate averages R0 + 0.05 (R1 - R0)
  // at the start and R1 - 0.05 (R1 - R0) at the end.
  const double T = 2.0 * (n - 1) / (r0 + r1);
  CHECK(t.back() == Approx(T).epsilon(0.03));
  const double first = rate_in(t, 0, T / 10), last = rate_in(t, 0.9 * T, T);
  CHECK(first == Approx(r0 + 0.05 * (r1 - r0)).epsilon(0.1));
  CHECK(last == Approx(r1 - 0.05 * (r1 - r0)).epsilon(0.1));
  // The middle tenth runs at about the mean of the two.
  CHECK(rate_in(t, 0.45 * T, 0.55 * T) == Approx((r0 + r1) / 2).epsilon(0.1));
}

TEST_CASE("ramp: constant arrivals spread evenly in intensity: gaps go from 1/R0 to 1/R1", "[workload][arrivals][ramp]") {
  const auto t = ramp_seconds(1000, 1.0, 10.0, wl::arrival_process::constant);
  const double T = 2.0 * 999 / 11.0;
  CHECK(t.back() == Approx(T).epsilon(1e-9));
  // Each gap holds one unit of intensity: a linear rate's integral over a gap is the gap times
  // the rate at its midpoint.
  for (std::size_t i = 1; i < t.size(); ++i) {
    const double rate_mid = 1.0 + 9.0 * (t[i] + t[i - 1]) / 2 / T;
    INFO("gap " << i);
    REQUIRE((t[i] - t[i - 1]) * rate_mid == Approx(1.0).epsilon(1e-6));
  }
  CHECK(t[1] - t[0] == Approx(1.0).epsilon(0.03));  // the rate has risen a little within the first gap
  CHECK(t[999] - t[998] == Approx(0.1).epsilon(0.01));
  // Same seed, same times.
  CHECK(ramp_seconds(1000, 1.0, 10.0, wl::arrival_process::poisson) ==
        ramp_seconds(1000, 1.0, 10.0, wl::arrival_process::poisson));
}

TEST_CASE("ramp: parse_ramp reads START:END and names a bad one", "[workload][arrivals][ramp]") {
  wl::arrival_config ac;
  planetserve::diagnostics diag;
  CHECK_FALSE(wl::parse_ramp("0.5:12", ac, diag));
  CHECK(ac.ramp_start_rps == 0.5);
  CHECK(ac.ramp_end_rps == 12.0);
  for (const char* bad : {"5", "0:10", "1:-2", "a:3", "1:2:3", ":4", "1:inf"}) {
    diag.clear();
    INFO(bad);
    CHECK(wl::parse_ramp(bad, ac, diag) == planetserve::make_error_code(planetserve::error::invalid_argument));
    CHECK_THAT(diag.message, Catch::Contains(std::string("ramp '") + bad + "'") && Catch::Contains("e.g. 1:20"));
  }
  wl::arrival_config half;
  half.ramp_start_rps = 3;
  CHECK_FALSE(wl::make_arrivals(3, half, diag).has_value());
  CHECK_THAT(diag.message, Catch::Contains("must both be > 0"));
}
