// SPDX-License-Identifier: MIT
// sim::write_metrics: the emulator's /metrics page, in vLLM's names as Python's prometheus_client prints them.
#pragma once

#include <planetserve/sim/engine_stats.hpp>
#include <planetserve/sim/vllm_version.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace planetserve::sim {

class engine;

/// Which vLLM generation's metric names the page shows.
enum class metric_names : std::uint8_t {
  /// vLLM >= 0.11 (V1 engine): vllm:kv_cache_usage_perc, vllm:prefix_cache_{queries,hits},
  /// vllm:inter_token_latency_seconds, vllm:request_time_per_output_token_seconds;
  /// labels model_name and engine.
  v1,
  /// The older names the seed's scripts read: vllm:gpu_cache_usage_perc,
  /// vllm:gpu_prefix_cache_{queries,hits}, vllm:gpu_prefix_cache_hit_rate,
  /// vllm:time_per_output_token_seconds; label model_name only (the V0 engine's set).
  v0,
  /// vLLM 0.10.x: both sets side by side, the old ones marked DEPRECATED in their HELP.
  both,
};

/// Parses "v1", "v0" or "both".
std::optional<metric_names> parse_metric_names(std::string_view s) noexcept;

/// What the page shows besides the engine's counters.
struct metrics_page_config {
  metric_names names = metric_names::v1;  ///< --metrics-names
  metric_families families = default_vllm_version().families;  ///< the families of the emulated vLLM version (--vllm-version)
  std::string model_name = "meta-llama/Llama-3.1-8B-Instruct";  ///< the model_name label (served model name)
  std::string engine_index = "0";         ///< the engine label (V1 data-parallel rank)
  double created_unix_s = 0;              ///< value of every *_created series (unix seconds the node started)
  bool created_series = true;             ///< write *_created gauges, as prometheus_client does by default
  bool process_metrics = true;            ///< write python_gc_*, python_info and process_* families first
  double gpu_memory_utilization = 0.9;    ///< shown in vllm:cache_config_info
  std::optional<std::size_t> num_gpu_blocks_override;  ///< shown in vllm:cache_config_info
};

/// The engine's state as the page needs it.
struct metrics_view {
  const engine_stats* stats = nullptr;  ///< counters and histograms
  std::size_t running = 0;              ///< vllm:num_requests_running
  std::size_t waiting = 0;              ///< vllm:num_requests_waiting
  double kv_cache_usage = 0;            ///< vllm:kv_cache_usage_perc (0..1)
  std::size_t block_size = 16;          ///< cache_config_info block_size
  std::size_t num_gpu_blocks = 0;       ///< cache_config_info num_gpu_blocks
  bool prefix_caching = true;           ///< cache_config_info enable_prefix_caching
};

/// The view of a live engine.
metrics_view view_of(const engine& e);

/// Appends the text exposition (format 0.0.4) of `view` to `out`. Families appear in the
/// order vLLM registers them; labels are sorted by name; numbers are formatted by
/// go_float_string; counters are named *_total with a separate *_created gauge family.
void write_metrics(const metrics_view& view, const metrics_page_config& config, std::string& out);

}  // namespace planetserve::sim
