// SPDX-License-Identifier: MIT
// write_run_outputs: every file one policy's run leaves in its log_/fig_ folders.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/experiment/node_timeline.hpp>
#include <planetserve/experiment/output_layout.hpp>
#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/request_record.hpp>
#include <planetserve/experiment/summary.hpp>

#include <ostream>
#include <span>
#include <vector>

namespace planetserve::experiment {

/// Writes experiment_results.json, throughput_records.json (every `tick_s`), summary.json,
/// timeline.json and <dataset>_summary.txt into layout.log_dir, and the figures into
/// layout.fig_dir. Every file goes through a temporary name and a rename. Sets
/// summary.seed from the first two files, read as the seed reads them, before writing the
/// summaries. Every file is attempted; the error (file_unwritable) names each one not written.
boost::system::error_code write_run_outputs(std::span<const request_record> records,
                                            std::span<const node_timeline> timelines,
                                            run_summary& summary, const output_layout& layout,
                                            double tick_s, bool render, std::ostream& log,
                                            diagnostics& diag);

/// Warns on `log`, once per node, about /metrics readings summarize() left out (NaN, a
/// missing series, a counter dip it came back from).
void warn_skipped_readings(const run_summary& summary, std::ostream& log);

/// Writes the charts' scripts into `dir` and renders them when `render` and gnuplot is
/// installed; says on `log` how to render them when it is not.
boost::system::error_code write_charts(const std::vector<chart>& charts,
                                       const std::filesystem::path& dir, bool render,
                                       std::ostream& log, diagnostics& diag);

}  // namespace planetserve::experiment
