// SPDX-License-Identifier: MIT
// sim::random: a small seeded generator whose outputs are identical on every platform.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

namespace planetserve::sim {

/// SplitMix64 with hand-written distributions: std::*_distribution differ between standard
/// libraries, and the emulator must give the same numbers for the same seed everywhere.
class random {
 public:
  /// A generator seeded with `seed`.
  explicit random(std::uint64_t seed) noexcept : state_(seed) {}

  /// The next 64 random bits.
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Uniform integer in [0, n), n > 0.
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

  /// Standard normal (Box-Muller; one value per call).
  double normal() noexcept {
    double u1 = uniform();
    if (u1 <= 0) u1 = 0x1.0p-53;
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  /// Exponential with the given mean.
  double exponential(double mean) noexcept { return -mean * std::log1p(-uniform()); }

 private:
  std::uint64_t state_;
};

/// Mixes a seed with a string (e.g. a request id) into a new seed (FNV-1a, then SplitMix).
inline std::uint64_t mix_seed(std::uint64_t seed, std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return random(h).next();
}

/// Mixes two numbers into a new seed.
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t x) noexcept {
  return random(seed ^ random(x).next()).next();
}

}  // namespace planetserve::sim
