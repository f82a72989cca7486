// SPDX-License-Identifier: MIT
// Compiled body of the SVG chart renderer.
#pragma once

#include <planetserve/detail/html_escape.hpp>
#include <planetserve/experiment/downsample.hpp>
#include <planetserve/experiment/svg_chart.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace planetserve::experiment {

namespace {

constexpr const char* svg_palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string svg_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string tick_label(double v) {
  if (std::fabs(v) < 1e-12) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Round-number ticks covering [lo, hi]: steps of 1, 2 or 5 times a power of ten.
std::vector<double> nice_ticks(double& lo, double& hi, int want = 5) {
  const double raw = (hi - lo) / want;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;
  std::vector<double> t;
  for (double v = lo; v <= hi + step * 1e-6; v += step) t.push_back(v);
  return t;
}

}  // namespace

std::string svg_chart(const chart& c, int width, int height) {
  using detail::html_escaped;
  const double left = 70, right = 180, top = 34, bottom = 46;
  const double pw = width - left - right, ph = height - top - bottom;
  std::vector<std::vector<std::pair<double, double>>> data;
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const auto& s : c.series) {
    data.push_back(downsample(s.points));
    for (const auto& [x, y] : data.back()) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      xlo = std::min(xlo, x), xhi = std::max(xhi, x), ylo = std::min(ylo, y), yhi = std::max(yhi, y);
    }
  }
  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" + std::to_string(width) + "\" height=\"" +
       std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
       "\" role=\"img\" aria-label=\"" + html_escaped(c.title) + "\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  o += "<text x=\"" + svg_num(left + pw / 2) + "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">" +
       html_escaped(c.title) + "</text>\n";
  if (!std::isfinite(xlo)) {
    o += "<text x=\"" + svg_num(left + pw / 2) + "\" y=\"" + svg_num(top + ph / 2) +
         "\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n</svg>\n";
    return o;
  }
  const bool categories = !c.x_tics.empty();
  if (categories) {
    xlo = -0.6;
    xhi = static_cast<double>(c.x_tics.size()) - 0.4;
  }
  bool has_boxes = false;
  double half_box = 0;
  for (const auto& s : c.series) has_boxes |= s.style == plot_style::boxes;
  if (has_boxes && !categories) {
    half_box = c.box_width > 0 ? c.box_width / 2 : 0.4;
    xlo -= half_box, xhi += half_box;
  }
  if (c.y_from_zero || has_boxes) ylo = std::min(ylo, 0.0), yhi = std::max(yhi, 0.0);
  if (!(xhi > xlo)) xlo -= 1, xhi += 1;
  if (!(yhi > ylo)) ylo -= std::max(1.0, std::fabs(ylo) * 0.1), yhi += std::max(1.0, std::fabs(yhi) * 0.1);
  const auto yt = nice_ticks(ylo, yhi);
  std::vector<double> xt;
  if (!categories) xt = nice_ticks(xlo, xhi);
  auto X = [&](double x) { return left + (x - xlo) / (xhi - xlo) * pw; };
  auto Y = [&](double y) { return top + ph - (y - ylo) / (yhi - ylo) * ph; };
  // Grid, ticks and labels.
  o += "<g font-size=\"11\" fill=\"#333\">\n";
  for (double v : yt) {
    o += "<line x1=\"" + svg_num(left) + "\" x2=\"" + svg_num(left + pw) + "\" y1=\"" + svg_num(Y(v)) + "\" y2=\"" +
         svg_num(Y(v)) + "\" stroke=\"#e3e3e3\"/>";
    o += "<text x=\"" + svg_num(left - 6) + "\" y=\"" + svg_num(Y(v) + 4) + "\" text-anchor=\"end\">" +
         tick_label(v) + "</text>\n";
  }
  if (categories) {
    for (std::size_t i = 0; i < c.x_tics.size(); ++i)
      o += "<text x=\"" + svg_num(X(static_cast<double>(i))) + "\" y=\"" + svg_num(top + ph + 16) +
           "\" text-anchor=\"middle\">" + html_escaped(c.x_tics[i], 60) + "</text>\n";
  } else {
    for (double v : xt) {
      o += "<line x1=\"" + svg_num(X(v)) + "\" x2=\"" + svg_num(X(v)) + "\" y1=\"" + svg_num(top) + "\" y2=\"" +
           svg_num(top + ph) + "\" stroke=\"#f0f0f0\"/>";
      o += "<text x=\"" + svg_num(X(v)) + "\" y=\"" + svg_num(top + ph + 16) + "\" text-anchor=\"middle\">" +
           tick_label(v) + "</text>\n";
    }
  }
  o += "</g>\n<rect x=\"" + svg_num(left) + "\" y=\"" + svg_num(top) + "\" width=\"" + svg_num(pw) + "\" height=\"" +
       svg_num(ph) + "\" fill=\"none\" stroke=\"#555\"/>\n";
  o += "<text x=\"" + svg_num(left + pw / 2) + "\" y=\"" + std::to_string(height - 8) +
       "\" text-anchor=\"middle\" font-size=\"12\">" + html_escaped(c.x_label) + "</text>\n";
  o += "<text transform=\"translate(16," + svg_num(top + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" +
       html_escaped(c.y_label) + "</text>\n";
  // Series, clipped to the plot area.
  static int clip_ids = 0;  // unique within one process: several charts share one page
  const std::string clip = "clip" + std::to_string(++clip_ids);
  o += "<clipPath id=\"" + clip + "\"><rect x=\"" + svg_num(left) + "\" y=\"" + svg_num(top) + "\" width=\"" +
       svg_num(pw) + "\" height=\"" + svg_num(ph) + "\"/></clipPath>\n<g clip-path=\"url(#" + clip + ")\">\n";
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    const auto pick = c.series[i].colour >= 0 ? static_cast<std::size_t>(c.series[i].colour) : i;
    const std::string colour = svg_palette[pick % std::size(svg_palette)];
    const auto& pts = data[i];
    const auto style = c.series[i].style;
    if (style == plot_style::boxes) {
      const double hw = c.box_width > 0 ? c.box_width / 2 : 0.4;
      for (const auto& [x, y] : pts) {
        if (!std::isfinite(x) || !std::isfinite(y)) continue;
        const double y0 = Y(0), y1 = Y(y);
        o += "<rect x=\"" + svg_num(X(x - hw)) + "\" y=\"" + svg_num(std::min(y0, y1)) + "\" width=\"" +
             svg_num(X(x + hw) - X(x - hw)) + "\" height=\"" + svg_num(std::fabs(y1 - y0)) + "\" fill=\"" + colour +
             "\" fill-opacity=\"0.8\"/>\n";
      }
      continue;
    }
    if (style != plot_style::points) {
      std::string d;
      bool pen = false;
      for (const auto& [x, y] : pts) {
        if (!std::isfinite(x) || !std::isfinite(y)) {
          pen = false;  // a missing value is a gap
          continue;
        }
        if (!pen) d += "M" + svg_num(X(x)) + " " + svg_num(Y(y));
        else if (style == plot_style::steps) d += "H" + svg_num(X(x)) + "V" + svg_num(Y(y));
        else d += "L" + svg_num(X(x)) + " " + svg_num(Y(y));
        pen = true;
      }
      o += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.8\"" +
           (c.series[i].dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
    }
    if (style == plot_style::points || style == plot_style::linespoints) {
      o += "<g fill=\"" + colour + "\">";
      for (const auto& [x, y] : pts)
        if (std::isfinite(x) && std::isfinite(y))
          o += "<circle cx=\"" + svg_num(X(x)) + "\" cy=\"" + svg_num(Y(y)) + "\" r=\"" +
               (style == plot_style::points ? "1.8" : "2.6") + "\"/>";
      o += "</g>\n";
    }
  }
  o += "</g>\n<g font-size=\"11\">\n";
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    const double ly = top + 10 + static_cast<double>(i) * 16;
    if (ly > top + ph) break;
    const auto pick = c.series[i].colour >= 0 ? static_cast<std::size_t>(c.series[i].colour) : i;
    const std::string colour = svg_palette[pick % std::size(svg_palette)];
    // A line sample, dashed like its series.
    o += "<line x1=\"" + svg_num(left + pw + 10) + "\" x2=\"" + svg_num(left + pw + 28) + "\" y1=\"" + svg_num(ly - 4) +
         "\" y2=\"" + svg_num(ly - 4) + "\" stroke=\"" + colour + "\" stroke-width=\"" +
         (c.series[i].style == plot_style::boxes ? "8" : "2.5") + "\"" +
         (c.series[i].dashed ? " stroke-dasharray=\"5 3\"" : "") + "/><text x=\"" + svg_num(left + pw + 32) + "\" y=\"" + svg_num(ly) + "\">" +
         html_escaped(c.series[i].title, 40) + "</text>\n";
  }
  o += "</g>\n</svg>\n";
  return o;
}

}  // namespace planetserve::experiment
