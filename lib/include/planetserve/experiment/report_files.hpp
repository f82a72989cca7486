// SPDX-License-Identifier: MIT
// Writing report.html (and the comparison's record figures) for runs, comparisons and sweeps.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/experiment/html_report.hpp>
#include <planetserve/experiment/runner.hpp>

#include <filesystem>
#include <ostream>
#include <span>

namespace planetserve::experiment {

/// Writes `<log_dir>/report.html` for one run: its summary, nodes, the run's figures, the
/// configuration from its run.json and `emulator` (empty: real servers), which is also kept in
/// emulator.json beside it so that `pswm report` can show it again.
boost::system::error_code write_run_report(const run_summary& summary, std::span<const request_record> records,
                                           std::span<const node_timeline> timelines,
                                           const std::filesystem::path& log_dir, const report_facts& emulator,
                                           diagnostics& diag);

/// The same for a runner's result.
boost::system::error_code write_run_report(const policy_result& run, const report_facts& emulator,
                                           diagnostics& diag);

/// The emulator facts a run's emulator.json kept (empty when there is none: real servers).
report_facts read_emulator_facts(const std::filesystem::path& log_dir);

/// For several policies' runs compared in `dir` (compare_<dataset>_<interval>/): writes the
/// figures that need their records (compare_ttft_cdf, compare_hit_ratio_over_time; rendered
/// when `render` and gnuplot is installed) and report.html with every comparison figure.
boost::system::error_code write_comparison_report(const std::filesystem::path& dir,
                                                  std::span<const policy_result> runs,
                                                  const report_facts& emulator, bool render, std::ostream& log,
                                                  diagnostics& diag);

/// The comparison folder a runner wrote for `config` (compare_<dataset>_<interval>/).
std::filesystem::path comparison_dir(const run_config& config);

}  // namespace planetserve::experiment
