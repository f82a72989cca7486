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

/// percentile_sorted()'s value without sorting: two selections (linear time) that reorder
/// `v`. For a run's hundreds of millions of inter-token gaps, where a sort is most of the cost.
inline double percentile_select(std::vector<double>& v, double p) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto at = v.begin() + static_cast<std::ptrdiff_t>(lo);
  std::nth_element(v.begin(), at, v.end());
  const double a = *at;
  const double b = lo + 1 < v.size() ? *std::min_element(at + 1, v.end()) : a;
  return a + (b - a) * (rank - static_cast<double>(lo));
}

/// The p-th percentile of unsorted samples (copies and sorts).
inline double percentile(std::span<const double> v, double p) {
  std::vector<double> s(v.begin(), v.end());
  std::sort(s.begin(), s.end());
  return percentile_sorted(s, p);
}

}  // namespace planetserve::experiment
