// SPDX-License-Identifier: MIT
// The figures of a run (the seed's seven plus KV usage and per-node load), and the comparison.
#pragma once

#include <planetserve/experiment/node_timeline.hpp>
#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/request_record.hpp>
#include <planetserve/experiment/summary.hpp>

#include <span>
#include <string>
#include <vector>

namespace planetserve::experiment {

/// latency_stats, ttft_stats, tpot_stats, prefix_hit_rate, arrival_distribution,
/// token_throughput, request_throughput, kv_cache_usage, node_load, and cache_prediction
/// (predicted against reported cached tokens per request) when some request has both.
/// Rates and interval hit ratios are taken over windows of `window_s` seconds.
std::vector<chart> run_charts(std::span<const request_record> records,
                              std::span<const node_timeline> timelines, double window_s = 1.0);

/// compare_latency (TTFT and E2E mean/p99 per policy) and compare_hit_ratio.
std::vector<chart> comparison_charts(std::span<const run_summary> runs);

/// Nodes up to which per-node figures draw one line per node; beyond, percentile bands
/// across nodes (p10, median, p90, max) so that a 1,024-node run stays readable.
inline constexpr std::size_t max_node_lines = 32;

/// One policy's records and scrapes, named, for figures drawn over several runs.
struct labelled_run {
  std::string label;                         ///< legend text, e.g. the policy
  std::span<const request_record> records;   ///< its requests
  std::span<const node_timeline> timelines;  ///< its scrapes, per node
  const plot_series* ttft_cdf = nullptr;     ///< its TTFT CDF made earlier (records dropped); null: from `records`
};

/// The fleet's prefix hit ratio since the start of the run, Σ(hits − hits₀)/Σ(queries − queries₀)
/// over every node at each scrape: a line without gaps (times before the first query are left out).
plot_series cumulative_hit_ratio(std::span<const node_timeline> timelines, std::string title);

/// The empirical CDF of the completed requests' TTFT (seconds) as a step line.
plot_series ttft_cdf(std::span<const request_record> records, std::string title);

/// compare_ttft_cdf (one TTFT CDF line per run) and compare_hit_ratio_over_time (one
/// cumulative hit-ratio line per run): the comparison's figures that need the records.
std::vector<chart> comparison_record_charts(std::span<const labelled_run> runs);

/// One series per node of `get(sample)` at each scrape when there are at most max_node_lines
/// nodes; otherwise, every `step_s`, the p10, median, p90 and max across the nodes' latest
/// readings (NaN readings left out).
std::vector<plot_series> per_node_series(std::span<const node_timeline> timelines,
                                         double (*get)(const prom::vllm_snapshot&), double step_s);

}  // namespace planetserve::experiment
