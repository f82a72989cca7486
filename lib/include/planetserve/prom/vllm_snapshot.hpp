// SPDX-License-Identifier: MIT
// vllm_snapshot: what one vLLM /metrics page says, summed over model_name/engine, V1 and V0 names.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/prom/parser.hpp>
#include <planetserve/prom/sample.hpp>

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace planetserve::prom {

/// One scrape of a vLLM server. Counters and histogram sums/counts are cumulative since the
/// server started and summed over every `model_name`/`engine` (and `finished_reason`)
/// series; gauges are summed, except KV-cache usage, which is the mean over engines.
/// Where vLLM renamed a metric, the current name wins when a page has both.
struct vllm_snapshot {
  double kv_cache_usage = 0;        ///< KV-cache blocks in use, 0..1, mean over engines
  double prefix_cache_queries = 0;  ///< tokens looked up in the prefix cache (NaN: not on the page)
  double prefix_cache_hits = 0;     ///< of those, tokens found cached (NaN: not on the page)
  double ttft_sum = 0;              ///< time to first token histogram: sum of seconds
  double ttft_count = 0;            ///< time to first token histogram: observations
  double tpot_sum = 0;    ///< per-token latency (inter-token latency, else time per output token): s
  double tpot_count = 0;  ///< per-token latency histogram: observations
  double e2e_sum = 0;     ///< end-to-end request latency histogram: sum of seconds
  double e2e_count = 0;   ///< end-to-end request latency histogram: observations (requests)
  double prompt_tokens = 0;      ///< prompt (prefill) tokens processed
  double generation_tokens = 0;  ///< tokens generated
  double request_success = 0;    ///< finished requests, every finished_reason
  double num_preemptions = 0;    ///< requests preempted
  double num_running = 0;        ///< requests in the running batch now
  double num_waiting = 0;        ///< requests queued now
  /// The old (V0) gauge `vllm:gpu_prefix_cache_hit_rate`, mean over series, when exposed.
  std::optional<double> legacy_prefix_cache_hit_rate;
  std::optional<std::int64_t> block_size;      ///< tokens per KV block (`vllm:cache_config_info`)
  std::optional<std::int64_t> num_gpu_blocks;  ///< KV blocks per engine (`vllm:cache_config_info`)
  std::size_t engines = 0;       ///< series that reported KV-cache usage (engines × models)
  bool current_names = false;    ///< saw names of vLLM ≥ 0.9 (`vllm:kv_cache_usage_perc`, ...)
  bool legacy_names = false;     ///< saw older names (`vllm:gpu_cache_usage_perc`, ...)
  bool v1_engine_label = false;  ///< samples carried V1's `engine` label
  std::size_t vllm_samples = 0;  ///< samples named `vllm:*` on the page

  /// Whether the page came from vLLM at all.
  bool has_vllm() const noexcept { return vllm_samples > 0; }

  /// Cumulative prefix-cache hit ratio hits/queries; NaN before any query.
  double prefix_cache_hit_ratio() const noexcept {
    return prefix_cache_queries > 0 ? prefix_cache_hits / prefix_cache_queries
                                    : std::numeric_limits<double>::quiet_NaN();
  }
};

/// A sample_sink that folds a page into a vllm_snapshot while it is parsed (no page model).
class vllm_snapshot_builder final : public sample_sink {
 public:
  void on_sample(const sample_view& sample) override;

  /// The snapshot of everything seen since the last reset.
  vllm_snapshot snapshot() const;
  /// Forgets everything seen (next page).
  void reset() noexcept { *this = vllm_snapshot_builder{}; }

 private:
  // Current and legacy twins are kept apart and resolved in snapshot().
  struct twin {
    double current = 0;
    double legacy = 0;
    bool has_current = false;
    bool has_legacy = false;
    double pick() const noexcept { return has_current ? current : legacy; }
  };
  twin kv_sum_, prefix_queries_, prefix_hits_, tpot_sum_, tpot_count_;
  std::size_t kv_series_current_ = 0, kv_series_legacy_ = 0;
  double hit_rate_sum_ = 0;
  std::size_t hit_rate_series_ = 0;
  vllm_snapshot s_;
};

/// Parses a whole page into a snapshot (the monitor's fast path: no allocation per sample).
/// On a malformed page returns the parser's error and sets `diag` to "line N: ...".
result<vllm_snapshot> parse_vllm_snapshot(std::string_view page, diagnostics* diag = nullptr);

/// Same, reading a saved page from a stream in chunks. A read error gives
/// error::file_unreadable.
result<vllm_snapshot> parse_vllm_snapshot(std::istream& in, diagnostics* diag = nullptr);

/// One JSON object, one line: kv_cache_usage, prefix_cache_queries, prefix_cache_hits,
/// prefix_cache_hit_ratio (cumulative), ttft_sum, ttft_count, tpot_sum, tpot_count, e2e_sum,
/// e2e_count, prompt_tokens, generation_tokens, request_success, num_running, num_waiting,
/// then num_preemptions, block_size, num_gpu_blocks, legacy_prefix_cache_hit_rate, engines,
/// names ("current", "legacy", "both" or "none"). Undefined or absent values are null.
std::string to_json(const vllm_snapshot& s);

}  // namespace planetserve::prom
