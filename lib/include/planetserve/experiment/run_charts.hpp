// SPDX-License-Identifier: MIT
// The figures of a run (the seed's seven plus KV usage and per-node load), and the comparison.
#pragma once

#include <planetserve/experiment/node_timeline.hpp>
#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/request_record.hpp>
#include <planetserve/experiment/summary.hpp>

#include <span>
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

}  // namespace planetserve::experiment
