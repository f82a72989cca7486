// SPDX-License-Identifier: MIT
// dispatch::detail::rng: a small seeded generator whose sequence is the same on every platform.
#pragma once

#include <cstdint>

namespace planetserve::dispatch::detail {

/// splitmix64 with Lemire's bounded draw: the std distributions differ between standard
/// libraries, and decisions must be reproducible from a seed everywhere.
class rng {
 public:
  explicit rng(std::uint64_t seed = 0) noexcept : state_(seed) {}

  void seed(std::uint64_t s) noexcept { state_ = s; }

  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, n); n > 0. The tiny bias of the plain multiply-shift is irrelevant here.
  std::uint64_t below(std::uint64_t n) noexcept {
    __extension__ typedef unsigned __int128 u128;
    return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }

  /// Uniform in [0, 1).
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

}  // namespace planetserve::dispatch::detail
