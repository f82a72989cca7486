// SPDX-License-Identifier: MIT
// sim::engine_stats: the counters and histograms vLLM exports, kept by the emulated engine.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace planetserve::sim {

/// A Prometheus histogram: per-bucket counts (not cumulative) for the finite upper
/// bounds plus one for +Inf, the sum and the count.
struct histogram {
  std::vector<double> bounds;         ///< finite upper bounds, increasing (le values)
  std::vector<std::uint64_t> counts;  ///< bounds.size() + 1 entries, the last for +Inf
  double sum = 0;                     ///< sum of observed values
  std::uint64_t count = 0;            ///< number of observations

  histogram() = default;
  /// A histogram with upper bounds `b` (ascending; +Inf implied).
  explicit histogram(std::vector<double> b) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}

  /// Adds `v` to the first bucket whose bound is >= v (Prometheus's le semantics).
  void observe(double v) noexcept {
    std::size_t i = 0;
    while (i < bounds.size() && v > bounds[i]) ++i;
    ++counts[i];
    sum += v;
    ++count;
  }
};

/// vLLM's FinishReason values, in vLLM's enum order (the label order of request_success).
/// The emulator itself ends requests with stop, length or abort; error and repetition are
/// there because newer versions' pages show them.
enum class finish_reason : std::uint8_t { stop = 0, length = 1, abort = 2, error = 3, repetition = 4 };

/// "stop", "length", "abort", "error", "repetition".
const char* to_string(finish_reason r) noexcept;

/// vLLM's bucket lists (vllm/v1/metrics/loggers.py).
struct vllm_buckets {
  /// 1, 2, 5, 10, 20, 50, ... up to max (build_1_2_5_buckets).
  static std::vector<double> one_two_five(std::size_t max_value);
  /// time_to_first_token_seconds.
  static std::vector<double> ttft();
  /// inter_token_latency_seconds / time_per_output_token_seconds / request_time_per_output_token_seconds.
  static std::vector<double> per_token();
  /// e2e, queue, inference, prefill, decode time.
  static std::vector<double> request_latency();
  /// iteration_tokens_total.
  static std::vector<double> iteration_tokens();
  /// request_params_n.
  static std::vector<double> params_n();
};

/// Everything the emulator's /metrics shows, cumulative since start.
struct engine_stats {
  std::uint64_t prompt_tokens = 0;       ///< vllm:prompt_tokens (prompt length, counted at first token)
  std::uint64_t generation_tokens = 0;   ///< vllm:generation_tokens
  std::uint64_t preemptions = 0;         ///< vllm:num_preemptions
  std::uint64_t prefix_cache_queries = 0;  ///< vllm:prefix_cache_queries: prompt tokens at first admission
  std::uint64_t prefix_cache_hits = 0;     ///< vllm:prefix_cache_hits: of those, tokens found cached
  std::array<std::uint64_t, 5> request_success{};  ///< vllm:request_success by finish_reason
  std::uint64_t prompt_tokens_local_compute = 0;    ///< vllm:prompt_tokens_by_source{source="local_compute"}
  std::uint64_t prompt_tokens_local_cache_hit = 0;  ///< vllm:prompt_tokens_by_source{source="local_cache_hit"}
  std::uint64_t prompt_tokens_cached = 0;           ///< vllm:prompt_tokens_cached (local + external)
  std::uint64_t steps = 0;               ///< engine steps that ran the model (not exported)

  histogram request_prompt_tokens;       ///< vllm:request_prompt_tokens
  histogram request_generation_tokens;   ///< vllm:request_generation_tokens
  histogram iteration_tokens;            ///< vllm:iteration_tokens_total
  histogram request_max_num_generation_tokens;  ///< vllm:request_max_num_generation_tokens
  histogram request_params_n;            ///< vllm:request_params_n
  histogram request_params_max_tokens;   ///< vllm:request_params_max_tokens
  histogram time_to_first_token;         ///< vllm:time_to_first_token_seconds
  histogram inter_token_latency;         ///< vllm:inter_token_latency_seconds (= old time_per_output_token_seconds)
  histogram request_time_per_output_token;  ///< vllm:request_time_per_output_token_seconds
  histogram e2e_request_latency;         ///< vllm:e2e_request_latency_seconds
  histogram request_queue_time;          ///< vllm:request_queue_time_seconds
  histogram request_inference_time;      ///< vllm:request_inference_time_seconds
  histogram request_prefill_time;        ///< vllm:request_prefill_time_seconds
  histogram request_decode_time;         ///< vllm:request_decode_time_seconds
  histogram request_prefill_kv_computed_tokens;  ///< vllm:request_prefill_kv_computed_tokens (prompt - cached)

  /// Histograms with vLLM's buckets for a model of `max_model_len` tokens.
  explicit engine_stats(std::size_t max_model_len = 131072);
};

}  // namespace planetserve::sim
