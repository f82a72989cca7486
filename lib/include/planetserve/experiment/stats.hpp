// SPDX-License-Identifier: MIT
// Small descriptive statistics over samples: mean and percentiles (numpy's linear method).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

namespace planetserve::experiment {

/// Mean of `v`, NaN when empty.
inline double mean(std::span<const double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

/// The p-th percentile (0..100) of already sorted samples, interpolating linearly between
/// closest ranks as numpy.percentile does by default; NaN when empty.
inline double percentile_sorted(std::span<const double> sorted, double p) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

/// The p-th percentile of unsorted samples (copies and sorts).
inline double percentile(std::span<const double> v, double p) {
  std::vector<double> s(v.begin(), v.end());
  std::sort(s.begin(), s.end());
  return percentile_sorted(s, p);
}

}  // namespace planetserve::experiment
