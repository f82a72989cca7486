// SPDX-License-Identifier: MIT
// sim::vllm_version: what differs between the vLLM versions the emulator models (counters, metric families).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace planetserve::sim {

/// When the prefix-cache counters (vllm:prefix_cache_queries / _hits) count a request.
enum class prefix_cache_counting : std::uint8_t {
  /// Once, when the request is admitted (vLLM >= 0.26.0, PR #48860).
  at_admission,
  /// On every scheduling lookup of a never-scheduled request, so one that waits for KV
  /// blocks is counted again each step until it is admitted (vLLM before PR #48860).
  per_lookup,
};

/// The metric families a version has beyond the base set every modelled version shows.
struct metric_families {
  /// vllm:request_success has finished_reason="error" and "repetition" children (vLLM >= 0.17).
  bool finish_reason_error_repetition = true;
  /// vllm:num_requests_waiting_by_reason{reason="capacity"|"deferred"} (PR #38435).
  bool waiting_by_reason = true;
  /// vllm:prompt_tokens_by_source{source=...} and vllm:prompt_tokens_cached (PR #33290).
  bool prompt_tokens_by_source = true;
  /// vllm:request_prefill_kv_computed_tokens histogram (PR #30189).
  bool prefill_kv_computed = true;
};

/// One modelled vLLM version.
struct vllm_version {
  std::string_view name;           ///< what GET /version reports, e.g. "0.26.0"
  prefix_cache_counting counting;  ///< prefix-cache counter semantics
  bool deprecated_names_too;       ///< 0.10.x: the old gpu_* names shown beside the V1 ones
  metric_families families;        ///< families beyond the base set
};

/// Every modelled version, oldest first.
std::span<const vllm_version> modelled_vllm_versions() noexcept;

/// The newest modelled version (the emulator's default).
const vllm_version& default_vllm_version() noexcept;

/// The version named `name` exactly, or null.
const vllm_version* find_vllm_version(std::string_view name) noexcept;

/// "0.10.1, 0.11.0, ..." for error messages and --help.
std::string modelled_vllm_version_list();

}  // namespace planetserve::sim
