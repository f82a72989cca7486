// SPDX-License-Identifier: MIT
// rebuild_report: recomputes a saved run's summary, result files and figures from its raw logs.
#pragma once

#include <planetserve/error.hpp>

#include <filesystem>
#include <ostream>
#include <string>

namespace planetserve::experiment {

/// What to rebuild.
struct rebuild_options {
  std::filesystem::path log_dir;  ///< holds requests.jsonl, timeline.json, run.json
  std::filesystem::path fig_dir;  ///< figures go here; empty: log_X -> fig_X beside it
  bool render_figures = true;     ///< run gnuplot when installed
};

/// Reads requests.jsonl (every line; a torn last line from a crash is skipped with a
/// warning to `log`), timeline.json and run.json, then rewrites summary.json,
/// <dataset>_summary.txt, experiment_results.json, throughput_records.json and the
/// figures. Returns the summary text.
result<std::string> rebuild_report(const rebuild_options& options, std::ostream& log,
                                   diagnostics& diag);

}  // namespace planetserve::experiment
