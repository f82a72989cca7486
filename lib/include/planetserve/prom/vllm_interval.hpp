// SPDX-License-Identifier: MIT
// vllm_interval: what happened on a vLLM server between two snapshots (deltas, rates, ratios).
#pragma once

#include <planetserve/prom/vllm_snapshot.hpp>

#include <chrono>

namespace planetserve::prom {

/// The difference of two snapshots of one server. Counter deltas treat a counter that went
/// down as restarted from zero (as Prometheus' rate() does); two snapshots cannot tell a
/// restart from a bad reading, so a run's totals use prom::growth_of over all its scrapes.
/// A delta with a NaN (missing) reading on either side is NaN and no reset. Ratios and means
/// over an interval with nothing to divide by are NaN.
struct vllm_interval {
  std::chrono::duration<double> elapsed{};  ///< time between the snapshots
  double prefix_cache_queries = 0;  ///< Δ prefix-cache query tokens
  double prefix_cache_hits = 0;     ///< Δ prefix-cache hit tokens
  double prefix_cache_hit_ratio = 0;  ///< Δhits/Δqueries over the interval (NaN: no queries)
  double prompt_tokens = 0;           ///< Δ prompt tokens
  double generation_tokens = 0;       ///< Δ generated tokens
  double request_success = 0;         ///< Δ finished requests
  double num_preemptions = 0;         ///< Δ preemptions
  double prompt_tokens_per_s = 0;      ///< prompt tokens / elapsed (NaN when elapsed is 0)
  double generation_tokens_per_s = 0;  ///< generated tokens / elapsed
  double requests_per_s = 0;           ///< finished requests / elapsed
  double ttft_count = 0;   ///< Δ TTFT observations
  double ttft_mean = 0;    ///< Δttft_sum/Δttft_count, seconds (NaN: none)
  double tpot_count = 0;   ///< Δ per-token latency observations
  double tpot_mean = 0;    ///< Δtpot_sum/Δtpot_count, seconds (NaN: none)
  double e2e_count = 0;    ///< Δ end-to-end observations
  double e2e_mean = 0;     ///< Δe2e_sum/Δe2e_count, seconds (NaN: none)
  double kv_cache_usage = 0;  ///< gauge at the end of the interval
  double num_running = 0;     ///< gauge at the end of the interval
  double num_waiting = 0;     ///< gauge at the end of the interval
  bool counter_reset = false;  ///< some counter went down: the server restarted in between
};

/// `later` minus `earlier`, `elapsed` apart.
vllm_interval difference(const vllm_snapshot& earlier, const vllm_snapshot& later,
                         std::chrono::duration<double> elapsed);

}  // namespace planetserve::prom
