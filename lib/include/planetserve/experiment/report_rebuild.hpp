// SPDX-License-Identifier: MIT
// rebuild_report: recomputes a saved run's summary, result files and figures from its raw logs.
#pragma once

#include <planetserve/error.hpp>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace planetserve::experiment {

/// What to rebuild.
struct rebuild_options {
  std::filesystem::path log_dir;  ///< holds requests.jsonl, timeline.json, run.json
  std::filesystem::path fig_dir;  ///< figures go here; empty: log_X -> fig_X beside it
  bool render_figures = true;     ///< run gnuplot when installed
};

/// What a rebuild did.
struct rebuilt_report {
  std::string text;                        ///< the summary text, then where the files went
  std::vector<std::size_t> skipped_lines;  ///< requests.jsonl lines left out (1-based)
};

/// Reads requests.jsonl, timeline.json and run.json, then rewrites summary.json,
/// <dataset>_summary.txt, experiment_results.json, throughput_records.json and the
/// figures. A summary is never replaced by one built from fewer records than the run had:
/// when lines of requests.jsonl cannot be read and the run wrote its summary.json (it
/// finished), nothing is written and the error names the file and the lines
/// (error::invalid_json). A run without summary.json (killed) is rebuilt from the lines
/// that can be read; the others are listed in `skipped_lines` and on `log`.
result<rebuilt_report> rebuild_report(const rebuild_options& options, std::ostream& log,
                                      diagnostics& diag);

}  // namespace planetserve::experiment
