// SPDX-License-Identifier: MIT
// Compiled body of the gnuplot chart writer.
#pragma once

#include <planetserve/detail/python_float.hpp>
#include <planetserve/detail/sanitize.hpp>
#include <planetserve/experiment/atomic_file.hpp>
#include <planetserve/experiment/downsample.hpp>
#include <planetserve/experiment/plot.hpp>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace planetserve::experiment {

namespace {

// A gnuplot string constant that gnuplot takes as data: single quotes, where nothing is
// expanded (double-quoted strings run `backquoted` commands) and '' stands for a quote.
// Newlines would end the command and control codes mean nothing in a PNG: those go.
std::string gp_quoted(std::string_view s) {
  std::string out = "'";
  for (char c : planetserve::detail::sanitized(s, 400)) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

const char* style_name(plot_style s) {
  switch (s) {
    case plot_style::lines: return "lines lw 2";
    case plot_style::points: return "points pt 7 ps 0.6";
    case plot_style::linespoints: return "linespoints lw 2 pt 7 ps 0.6";
    case plot_style::steps: return "steps lw 2";
    case plot_style::boxes: return "boxes";
  }
  return "lines";
}

}  // namespace

std::string gnuplot_script(const chart& c, std::string_view png_name) {
  std::string s;
  s += "# pswm chart: render with `gnuplot " + c.name + ".gp`\n";
  s += "set terminal pngcairo size 1000,600 noenhanced font 'sans,11'\n";
  s += "set output " + gp_quoted(png_name) + "\n";
  s += "set title " + gp_quoted(c.title) + " noenhanced\n";
  s += "set xlabel " + gp_quoted(c.x_label) + " noenhanced\n";
  s += "set ylabel " + gp_quoted(c.y_label) + " noenhanced\n";
  s += "set grid\nset key outside right top noenhanced\n";
  if (c.y_from_zero) s += "set yrange [0:*]\n";
  bool any_boxes = false;
  for (const auto& ser : c.series) any_boxes |= ser.style == plot_style::boxes;
  if (any_boxes) {
    s += "set style fill solid 0.6 border -1\n";
    if (c.box_width > 0) {
      s += "set boxwidth ";
      detail::append_python_float(s, c.box_width);
      s += " absolute\n";
    } else {
      s += "set boxwidth 0.8 relative\n";
    }
  }
  if (!c.x_tics.empty()) {
    s += "set xtics (";
    for (std::size_t i = 0; i < c.x_tics.size(); ++i) {
      if (i) s += ", ";
      s += gp_quoted(c.x_tics[i]) + " " + std::to_string(i);
    }
    s += ")\nset xrange [-0.6:" + std::to_string(c.x_tics.size()) + "-0.4]\n";
  }
  bool drawable = false;
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    s += "$d" + std::to_string(i) + " << EOD\n";
    // Large runs draw fast: no series is written with more than max_drawn_points points.
    for (const auto& [x, y] : downsample(c.series[i].points)) {
      if (!std::isfinite(x) || !std::isfinite(y)) {
        s += "\n";  // a gap in the line where a value is missing
        continue;
      }
      detail::append_python_float(s, x);
      s += ' ';
      detail::append_python_float(s, y);
      s += '\n';
      drawable = true;
    }
    s += "EOD\n";
  }
  if (!drawable) {
    // gnuplot refuses to plot empty data; say so on the chart instead.
    s += "set label 1 'no data' at graph 0.5, graph 0.5 center\nset xrange [0:1]\nset yrange [0:1]\n"
         "plot 2 notitle\n";
    return s;
  }
  s += "plot ";
  bool first = true;
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    if (c.series[i].points.empty()) continue;
    if (!first) s += ", \\\n     ";
    first = false;
    s += "$d" + std::to_string(i) + " using 1:2 with " + style_name(c.series[i].style);
    if (c.series[i].colour >= 0) s += " lc " + std::to_string(c.series[i].colour + 1);
    if (c.series[i].dashed) s += " dt 2";
    s += " title " + gp_quoted(c.series[i].title);
  }
  s += "\n";
  return s;
}

std::filesystem::path find_gnuplot() {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/bin:/bin";
  while (!rest.empty()) {
    auto colon = rest.find(':');
    std::filesystem::path candidate =
        std::filesystem::path(std::string(rest.substr(0, colon))) / "gnuplot";
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return {};
}

boost::system::error_code render_chart(const chart& c, const std::filesystem::path& dir,
                                       const std::filesystem::path& gnuplot, diagnostics& diag) {
  const auto script_path = dir / (c.name + ".gp");
  if (auto ec = write_file_atomic(script_path, gnuplot_script(c, c.name + ".png"), diag)) return ec;
  if (gnuplot.empty()) return {};

  // gnuplot runs in `dir` and is given only our own file names: the folder's name (the
  // user's text) never reaches its command line or its script.
  std::string prog = gnuplot.string();
  const std::string script = script_path.string();
  std::string script_name = c.name + ".gp";
  char* argv[] = {prog.data(), script_name.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  // gnuplot's chatter about fonts is not ours to print.
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, prog.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    diag.message = "cannot run " + prog + " for " + script;
    return error::plot_failed;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    diag.message = "gnuplot failed on " + script + " (run `gnuplot " + script + "` to see why)";
    return error::plot_failed;
  }
  return {};
}

}  // namespace planetserve::experiment
