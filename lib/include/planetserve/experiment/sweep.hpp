// SPDX-License-Identifier: MIT
// Load sweeps and SLO searches as data: the rate list, each point's result, and the tables and curves made of them.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/slo.hpp>
#include <planetserve/experiment/summary.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::experiment {

/// Reads a comma list of offered loads given to `flag`: "--request-rate" takes req/s in
/// increasing order, "--average-interval" mean gaps in seconds in decreasing order (both go
/// from light to heavy load). Returns the request rates (req/s), increasing. Fails with
/// invalid_argument, naming the flag, what is wrong and an example, for an empty list, a value
/// that is not a positive number, or a list out of order or with a value twice.
result<std::vector<double>> parse_load_list(std::string_view text, std::string_view flag, diagnostics& diag);

/// The rate as folder names and tables write it: the shortest decimal ("2", "0.5", "12.5").
std::string rate_label(double rate_rps);

/// Why a point was run.
enum class sweep_purpose {
  sweep,       ///< one rate of the --request-rate list
  search,      ///< a step of the SLO search
  seed_check,  ///< an SLO boundary rerun with a second seed
};

/// "sweep", "search" or "seed_check".
std::string_view to_string(sweep_purpose p) noexcept;

/// One run of a sweep or search: one policy at one offered rate.
struct sweep_point {
  std::string policy;            ///< the dispatch policy
  double rate_rps = 0;           ///< offered load, requests per second (1 / mean interval)
  std::uint64_t seed = 0;        ///< arrivals' and policy's seed
  sweep_purpose purpose = sweep_purpose::sweep;  ///< why it ran
  std::string run_dir;           ///< the run's log folder, relative to the sweep folder
  run_summary summary;           ///< the run's summary
  std::optional<bool> slo_met;   ///< with an SLO: whether the run met it
  std::vector<std::string> slo_violations;  ///< with an SLO: each constraint the run broke
};

/// One policy's SLO search result.
struct slo_result {
  std::string policy;                    ///< the dispatch policy
  slo_search_end end = slo_search_end::searching;  ///< how the search ended
  std::optional<double> last_pass_rps;   ///< the highest rate whose run met the SLO
  std::optional<double> first_fail_rps;  ///< the lowest rate whose run broke it
  std::string last_pass_run;             ///< that run's log folder (relative), empty if none
  std::string first_fail_run;            ///< that run's log folder (relative), empty if none
  std::size_t runs = 0;                  ///< runs the search took
  std::optional<std::uint64_t> second_seed;  ///< the seed the boundary was rerun with
  std::optional<bool> second_seed_last_pass_met;   ///< the last passing rate met the SLO again
  std::optional<bool> second_seed_first_fail_met;  ///< the first failing rate met it with the second seed
};

/// Whether the second seed agreed with the first at both boundary rates (nullopt: not rerun).
std::optional<bool> seed_agrees(const slo_result& r) noexcept;

/// sweep.json: the offered rates, the policies, every point (its run folder, SLO verdict and
/// whole summary), and with an SLO the spec, the tolerance and each policy's search result.
std::string sweep_json(std::string_view dataset, std::span<const sweep_point> points,
                       const std::optional<slo_spec>& slo, double slo_tolerance,
                       std::span<const slo_result> searches);

/// The sweep as a table, one row per point in run order (rate, policy, completed, TTFT p50 and
/// p99, TPOT p99, E2E p99, throughput, goodput, hit ratio, SLO verdict), then each policy's
/// search result and what the second seed said; with two or more policies found, how much
/// more load each carries than the first policy listed at the same SLO.
std::string sweep_text(std::span<const sweep_point> points, const std::optional<slo_spec>& slo,
                       std::span<const slo_result> searches);

/// Curves against offered load, one line per policy (the points run with the first seed, by
/// rate): sweep_ttft (p50 and p99), sweep_tpot_p99, sweep_e2e_p99, sweep_throughput (achieved
/// against offered), sweep_goodput (when measured), sweep_hit_ratio.
std::vector<chart> sweep_charts(std::span<const sweep_point> points);

}  // namespace planetserve::experiment
