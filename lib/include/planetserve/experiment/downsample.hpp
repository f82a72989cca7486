// SPDX-License-Identifier: MIT
// downsample: at most a few thousand points per drawn series, keeping each stretch's extremes and gaps.
#pragma once

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace planetserve::experiment {

/// Points of a drawn series past which figures are downsampled.
inline constexpr std::size_t max_drawn_points = 2000;

/// At most `max_points` (>= 3) of `points`, in their order: the series is cut into equal runs
/// of consecutive points and each run keeps its lowest and highest finite y (so peaks survive)
/// and one missing (NaN) point when it had any (so gaps in a line stay gaps). The first and
/// last points are always kept. A series already short enough is returned whole.
std::vector<std::pair<double, double>> downsample(std::span<const std::pair<double, double>> points,
                                                  std::size_t max_points = max_drawn_points);

}  // namespace planetserve::experiment
