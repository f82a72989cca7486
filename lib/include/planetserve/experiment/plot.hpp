// SPDX-License-Identifier: MIT
// Charts as self-contained gnuplot scripts (data inline), rendered to PNG when gnuplot exists.
#pragma once

#include <planetserve/error.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace planetserve::experiment {

/// How a series is drawn.
enum class plot_style { lines, points, linespoints, steps, boxes };

/// One named series of (x, y) points.
struct plot_series {
  std::string title;                              ///< legend text
  std::vector<std::pair<double, double>> points;  ///< (x, y) in drawing order
  plot_style style = plot_style::lines;           ///< how to draw it
  int colour = -1;                                ///< colour number shared by related series (e.g. one policy's p50 and p99); -1: by position
  bool dashed = false;                            ///< draw the line dashed (the second of two related series)
};

/// One chart: written as `<name>.gp` (data inline) and rendered to `<name>.png`.
struct chart {
  std::string name;                  ///< file stem, e.g. "ttft_stats"
  std::string title;                 ///< chart title
  std::string x_label;               ///< x axis label with unit
  std::string y_label;               ///< y axis label with unit
  std::vector<plot_series> series;   ///< what to draw
  bool y_from_zero = true;           ///< start the y axis at 0
  std::vector<std::string> x_tics;   ///< category names for boxes charts (x = index)
  double box_width = 0;              ///< bar width in x units; 0: 80% of the bar spacing
};

/// The gnuplot script for `c`, drawing into `png_name` in the folder gnuplot runs in. Every
/// text (titles, labels, names) is a single-quoted gnuplot string: taken as data, never
/// expanded.
std::string gnuplot_script(const chart& c, std::string_view png_name);

/// Path of the gnuplot executable, or empty when it is not installed.
std::filesystem::path find_gnuplot();

/// Writes `<dir>/<name>.gp` and, when `gnuplot` is non-empty, runs it in `dir` to make
/// `<dir>/<name>.png`. Errors name the file and what gnuplot said.
boost::system::error_code render_chart(const chart& c, const std::filesystem::path& dir,
                                       const std::filesystem::path& gnuplot, diagnostics& diag);

}  // namespace planetserve::experiment
