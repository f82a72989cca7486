// SPDX-License-Identifier: MIT
// Compiled body of the figures' downsampling.
#pragma once

#include <planetserve/experiment/downsample.hpp>

#include <algorithm>
#include <cmath>

namespace planetserve::experiment {

std::vector<std::pair<double, double>> downsample(std::span<const std::pair<double, double>> points,
                                                  std::size_t max_points) {
  max_points = std::max<std::size_t>(max_points, 5);
  if (points.size() <= max_points) return {points.begin(), points.end()};
  std::vector<std::pair<double, double>> out;
  out.reserve(max_points);
  out.push_back(points.front());
  // Up to three points per run (low, high, a gap) plus the first and last.
  const std::size_t runs = (max_points - 2) / 3;
  const std::size_t inner = points.size() - 2;
  for (std::size_t r = 0; r < runs; ++r) {
    const std::size_t b = 1 + r * inner / runs, e = 1 + (r + 1) * inner / runs;
    std::size_t lo = e, hi = e, gap = e;
    for (std::size_t i = b; i < e; ++i) {
      const double y = points[i].second;
      if (!std::isfinite(y) || !std::isfinite(points[i].first)) {
        if (gap == e) gap = i;
        continue;
      }
      if (lo == e || y < points[lo].second) lo = i;
      if (hi == e || y > points[hi].second) hi = i;
    }
    std::size_t keep[3] = {lo, hi, gap};
    std::sort(keep, keep + 3);
    for (std::size_t k = 0; k < 3; ++k)
      if (keep[k] != e && (k == 0 || keep[k] != keep[k - 1])) out.push_back(points[keep[k]]);
  }
  out.push_back(points.back());
  return out;
}

}  // namespace planetserve::experiment
