// SPDX-License-Identifier: MIT
// Tests for the arrival processes: moments of the gaps, determinism, argument checks.
#include <planetserve/workload/arrivals.hpp>
#include <planetserve/workload/rng.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <vector>

namespace ws = planetserve::workload;
using namespace std::chrono_literals;

namespace {

struct moments {
  double mean = 0, variance = 0;
};

std::vector<std::chrono::nanoseconds> arrivals(std::size_t n, const ws::arrival_config& c) {
  planetserve::diagnostics diag;
  auto t = ws::make_arrivals(n, c, diag);
  INFO(diag.message);
  REQUIRE(t.has_value());
  return std::move(*t);
}

/// Mean and variance of the gaps, in seconds.
moments gap_moments(const std::vector<std::chrono::nanoseconds>& t) {
  std::vector<double> gaps;
  for (std::size_t i = 1; i < t.size(); ++i) gaps.push_back(std::chrono::duration<double>(t[i] - t[i - 1]).count());
  moments m;
  for (double g : gaps) m.mean += g;
  m.mean /= static_cast<double>(gaps.size());
  for (double g : gaps) m.variance += (g - m.mean) * (g - m.mean);
  m.variance /= static_cast<double>(gaps.size() - 1);
  return m;
}

// 200,000 gaps: the standard error of the mean is mean * cv / 447, under 0.5% even for cv = 2,
// so 3% on the mean and 8% on the variance are wide of chance yet catch a wrong scale or shape.
constexpr std::size_t samples = 200'001;

}  // namespace

TEST_CASE("workload arrivals: Poisson gaps have mean m and variance m^2", "[workload][arrivals]") {
  ws::arrival_config c;
  c.mean_interval = 0.5s;
  c.seed = 42;
  const auto t = arrivals(samples, c);
  REQUIRE(t.size() == samples);
  CHECK(t.front() == 0ns);
  const auto m = gap_moments(t);
  CHECK(m.mean == Approx(0.5).epsilon(0.03));
  CHECK(m.variance == Approx(0.25).epsilon(0.08));
}

TEST_CASE("workload arrivals: gamma keeps the mean and divides the variance by the burstiness", "[workload][arrivals]") {
  for (double b : {0.25, 0.5, 1.0, 4.0}) {
    ws::arrival_config c;
    c.process = ws::arrival_process::gamma;
    c.mean_interval = 2s;
    c.burstiness = b;
    c.seed = 7;
    const auto m = gap_moments(arrivals(samples, c));
    INFO("burstiness " << b);
    CHECK(m.mean == Approx(2.0).epsilon(0.03));
    CHECK(m.variance == Approx(4.0 / b).epsilon(0.08));
  }
}

TEST_CASE("workload arrivals: constant gaps are exact", "[workload][arrivals]") {
  ws::arrival_config c;
  c.process = ws::arrival_process::constant;
  c.mean_interval = 250ms;
  const auto t = arrivals(1001, c);
  for (std::size_t i = 0; i < t.size(); ++i) CHECK(t[i] == std::chrono::milliseconds(250 * static_cast<long>(i)));
}

TEST_CASE("workload arrivals: the same seed gives the same times, another seed others", "[workload][arrivals]") {
  ws::arrival_config c;
  c.seed = 1;
  const auto a = arrivals(1000, c), b = arrivals(1000, c);
  CHECK(a == b);
  c.seed = 2;
  CHECK(arrivals(1000, c) != a);
  for (std::size_t i = 1; i < a.size(); ++i) REQUIRE(a[i] >= a[i - 1]);
  // Pinned: the generator is our own integer code, so its stream is the same on every machine.
  ws::rng r(1);
  CHECK(r.next() == 12966619160104079557ULL);
  CHECK(r.next() == 9600361134598540522ULL);
}

TEST_CASE("workload arrivals: a zero interval sends everything at once; empty is empty", "[workload][arrivals]") {
  ws::arrival_config c;
  c.mean_interval = 0s;
  for (auto t : arrivals(100, c)) CHECK(t == 0ns);
  CHECK(arrivals(0, c).empty());
}

TEST_CASE("workload arrivals: bad settings are invalid_argument with a reason", "[workload][arrivals]") {
  planetserve::diagnostics diag;
  ws::arrival_config c;
  c.mean_interval = std::chrono::duration<double>(-1.0);
  auto r = ws::make_arrivals(10, c, diag);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == make_error_code(planetserve::error::invalid_argument));
  CHECK_THAT(diag.message, Catch::Contains("mean interval"));
  c.mean_interval = 1s;
  c.process = ws::arrival_process::gamma;
  c.burstiness = 0;
  diag.clear();
  REQUIRE_FALSE(ws::make_arrivals(10, c, diag).has_value());
  CHECK_THAT(diag.message, Catch::Contains("burstiness"));
  // 1e7 s apart, the 1000th request is due 1e10 s in: past the nanosecond clock (2^63 ns).
  c.process = ws::arrival_process::constant;
  c.mean_interval = std::chrono::duration<double>(1e7);
  diag.clear();
  auto far = ws::make_arrivals(1000, c, diag);
  REQUIRE_FALSE(far.has_value());
  CHECK(far.error() == make_error_code(planetserve::error::invalid_argument));
  CHECK_THAT(diag.message, Catch::Contains("request 924 would be due"));
  REQUIRE(ws::make_arrivals(900, c, diag).has_value());
}

TEST_CASE("workload arrivals: process names parse and print", "[workload][arrivals]") {
  for (auto p : {ws::arrival_process::poisson, ws::arrival_process::gamma, ws::arrival_process::constant})
    CHECK(ws::parse_arrival_process(ws::to_string(p)) == p);
  CHECK_FALSE(ws::parse_arrival_process("Poisson").has_value());
}

TEST_CASE("workload rng: below() is uniform and between() is inclusive", "[workload][arrivals]") {
  ws::rng r(99);
  std::vector<int> hist(7, 0);
  for (int i = 0; i < 70'000; ++i) ++hist[r.below(7)];
  for (int h : hist) CHECK(h == Approx(10'000).epsilon(0.05));
  bool lo = false, hi = false;
  for (int i = 0; i < 1000; ++i) {
    const auto v = r.between(3, 5);
    REQUIRE(v >= 3);
    REQUIRE(v <= 5);
    lo |= v == 3;
    hi |= v == 5;
  }
  CHECK(lo);
  CHECK(hi);
}
