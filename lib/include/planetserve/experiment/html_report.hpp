// SPDX-License-Identifier: MIT
// report.html: one self-contained page (no scripts, nothing fetched) for a run, a comparison or a sweep.
#pragma once

#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/slo.hpp>
#include <planetserve/experiment/summary.hpp>
#include <planetserve/experiment/sweep.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace planetserve::experiment {

/// Named values shown as a two-column table (configuration, emulator profile).
using report_facts = std::vector<std::pair<std::string, std::string>>;

/// What every report shows besides its own tables and figures.
struct report_context {
  std::string title;             ///< page title and heading
  report_facts configuration;    ///< the run's settings (e.g. facts_of_json(run.json))
  report_facts emulator;         ///< the emulator profile the nodes ran; empty: real servers
};

/// A JSON object's members as facts, in order; nested values as compact JSON. Text that is
/// not a JSON object gives one fact saying so.
report_facts facts_of_json(std::string_view json_text);

/// The summary.json keys a report's summary table shows, in order.
std::span<const std::string_view> report_summary_keys() noexcept;

/// One run: its summary table (every value as summary.json has it, to 6 significant digits,
/// each cell marked data-key), its per-node table, its figures, configuration and profile.
std::string run_report_html(const run_summary& s, std::span<const chart> charts, const report_context& ctx);

/// Several policies on one schedule: the summary table with a column per policy, the figures.
std::string comparison_report_html(std::span<const run_summary> runs, std::span<const chart> charts,
                                   const report_context& ctx);

/// A sweep or SLO search: the points' table (each linking its run's folder), each policy's SLO
/// answer and what the second seed said, the curves.
std::string sweep_report_html(std::span<const sweep_point> points, const std::optional<slo_spec>& slo,
                              std::span<const slo_result> searches, std::span<const chart> charts,
                              const report_context& ctx);

}  // namespace planetserve::experiment
