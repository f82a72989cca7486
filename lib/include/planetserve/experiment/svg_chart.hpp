// SPDX-License-Identifier: MIT
// svg_chart: a chart drawn as inline SVG (no scripts, no fonts or links to fetch), for report.html.
#pragma once

#include <planetserve/experiment/plot.hpp>

#include <string>

namespace planetserve::experiment {

/// `c` as one `<svg>` element `width` × `height` pixels: axes with round-number ticks, a grid,
/// every series downsampled (downsample) and drawn in its style (a missing value breaks a
/// line), a legend, the title and axis labels. Every text is HTML-escaped.
std::string svg_chart(const chart& c, int width = 760, int height = 340);

}  // namespace planetserve::experiment
