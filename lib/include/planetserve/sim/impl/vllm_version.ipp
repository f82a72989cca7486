// SPDX-License-Identifier: MIT
// Compiled body of sim::vllm_version: the table of modelled versions.
#pragma once

#include <planetserve/sim/vllm_version.hpp>

namespace planetserve::sim {

namespace detail {
// Sources (vLLM's vllm/v1/metrics/loggers.py and the PRs that changed it):
//  - 0.10.x shows the old gpu_* names beside the V1 ones, marked DEPRECATED; 0.11 drops them.
//  - request_prefill_kv_computed_tokens: PR #30189 (2025-12); prompt_tokens_by_source and
//    prompt_tokens_cached: PR #33290 (2026-02); FinishReason ERROR (PR #26813, after 0.11.0)
//    and REPETITION (0.17.0); num_requests_waiting_by_reason: PR #38435 (2026-03).
//  - Prefix-cache counters once per request at admission: PR #48860, merged after 0.25.0
//    was cut (2026-07), first released in 0.26.0.
inline constexpr metric_families no_new_families{false, false, false, false};
inline constexpr metric_families all_families{true, true, true, true};
inline constexpr vllm_version versions[] = {
    {"0.10.1", prefix_cache_counting::per_lookup, true, no_new_families},
    {"0.11.0", prefix_cache_counting::per_lookup, false, no_new_families},
    {"0.25.0", prefix_cache_counting::per_lookup, false, all_families},
    {"0.26.0", prefix_cache_counting::at_admission, false, all_families},
};
}  // namespace detail

std::span<const vllm_version> modelled_vllm_versions() noexcept { return detail::versions; }

const vllm_version& default_vllm_version() noexcept { return detail::versions[std::size(detail::versions) - 1]; }

const vllm_version* find_vllm_version(std::string_view name) noexcept {
  for (const auto& v : detail::versions)
    if (v.name == name) return &v;
  return nullptr;
}

std::string modelled_vllm_version_list() {
  std::string out;
  for (const auto& v : detail::versions) {
    if (!out.empty()) out += ", ";
    out += v.name;
  }
  return out;
}

}  // namespace planetserve::sim
