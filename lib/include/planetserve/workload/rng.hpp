// SPDX-License-Identifier: MIT
// rng: a small portable PRNG with its own distributions, so a seed gives the same output everywhere.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace planetserve::workload {

/// xoshiro256** seeded through splitmix64, with hand-written distributions.
/// std:: distributions are avoided on purpose: their algorithms differ between standard
/// libraries, and datasets and arrival times must be identical for a seed on every machine.
class rng {
 public:
  /// A generator seeded with `seed` (through splitmix64).
  explicit rng(std::uint64_t seed = 0) noexcept {
    std::uint64_t x = seed;
    for (auto& word : s_) word = splitmix64(x);
  }

  /// The next 64 random bits.
  std::uint64_t next() noexcept {
    const std::uint64_t out = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return out;
  }

  /// Uniform in [0, 1), 53 bits of precision.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Uniform integer in [0, n); n must be > 0. Rejection keeps it unbiased.
  std::uint64_t below(std::uint64_t n) noexcept {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x = next();
    while (x >= limit) x = next();
    return x % n;
  }

  /// Uniform integer in [lo, hi] (inclusive); lo <= hi.
  std::size_t between(std::size_t lo, std::size_t hi) noexcept {
    return lo + static_cast<std::size_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }

  /// Exponential with the given mean.
  double exponential(double mean) noexcept {
    // 1 - u lies in (0, 1], so the log is finite.
    return -mean * std::log(1.0 - uniform());
  }

  /// Standard normal (Marsaglia's polar method; the second value is dropped to keep no state).
  double normal() noexcept {
    for (;;) {
      const double a = 2.0 * uniform() - 1.0;
      const double b = 2.0 * uniform() - 1.0;
      const double q = a * a + b * b;
      if (q > 0.0 && q < 1.0) return a * std::sqrt(-2.0 * std::log(q) / q);
    }
  }

  /// Gamma with the given shape (> 0) and scale 1 (Marsaglia and Tsang's method).
  double gamma(double shape) noexcept {
    if (shape < 1.0) {
      // Boost a shape below 1 by one, then scale back down by U^(1/shape).
      const double u = 1.0 - uniform();  // (0, 1]
      return gamma(shape + 1.0) * std::pow(u, 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      const double x = normal();
      double v = 1.0 + c * x;
      if (v <= 0.0) continue;
      v = v * v * v;
      const double u = 1.0 - uniform();  // (0, 1]
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }

  /// Shuffles [first, last) in place (Fisher-Yates).
  template <class It>
  void shuffle(It first, It last) noexcept {
    const auto n = static_cast<std::size_t>(last - first);
    for (std::size_t i = n; i > 1; --i) {
      const auto j = static_cast<std::size_t>(below(i));
      using std::swap;
      swap(first[static_cast<std::ptrdiff_t>(i - 1)], first[static_cast<std::ptrdiff_t>(j)]);
    }
  }

  /// One step of splitmix64: advances `x` and returns a well-mixed value (also used to derive seeds).
  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

  std::uint64_t s_[4]{};
};

}  // namespace planetserve::workload
