// SPDX-License-Identifier: MIT
// The shipped emulator profiles, with how every number was derived and from where.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/sim/profile.hpp>

#include <array>
#include <cmath>

namespace planetserve::sim {

/*
How the numbers were derived (all profiles: meta-llama/Llama-3.1-8B-Instruct, BF16, one GPU)

Model facts (Llama-3.1-8B config.json: 32 layers, hidden 4096, 32 query heads, 8 KV heads,
head dim 128, vocab 128256, max_position_embeddings 131072):
  - parameters 8.03e9 -> 16.06 GB = 14.96 GiB of BF16 weights; vLLM logs "Loading model
    weights took 14.99 GiB" for this model, which is the number used (weights_gib).
  - KV bytes per token = 2 (K and V) x 32 layers x 8 KV heads x 128 x 2 bytes = 131072
    (128 KiB); one 16-token block = 2 MiB.
  - FLOPs per token through the linear layers ~ 2 x params = 16.06 GFLOP.
  - attention FLOPs per (query, key) pair = 4 x layers x query heads x head dim
    = 4 x 32 x 32 x 128 = 524288 (QK^T and PV, 2 FLOPs per multiply-add).
  - max_model_len = 131072: vLLM takes it from max_position_embeddings.

KV blocks (vLLM V1 gpu_worker.determine_available_memory): available KV memory =
  total x gpu_memory_utilization - weights - peak activation of the profile run - non-torch
  memory; blocks = floor(available / (block_size x 128 KiB)). The activation + non-torch
  reserve is an estimate: ~1.5 GiB with max_num_batched_tokens 2048 (vLLM logs for 8B
  models typically show ~1.2 GiB "torch peak memory increase" plus ~0.3 GiB non-torch),
  ~2.5 GiB with 8192 batched tokens and 1024 sequences (bigger activations and sampler
  buffers). Total memory is what torch reports for the device (a little below the
  marketing number: the driver reserves some).

Defaults from vLLM (vllm/engine/arg_utils.py, EngineArgs.get_batch_defaults, v0.10+):
  device memory >= 70 GiB and not an A100 -> OpenAI server max_num_batched_tokens 8192,
  max_num_seqs 1024; otherwise (A100, A6000) 2048 and 256. ("Setting large
  max_num_batched_tokens for A100 reduces throughput, see PR #17885.")

Step time (the four linear terms of step_cost), from spec-sheet rooflines scaled by
measured efficiencies:
  - Decode is memory-bound: at batch 1 a step reads all weights once. Measured: vLLM
    serving Llama-3.1-8B-Instruct on an A100-40GB decodes one request at ~75 tok/s,
    "roughly 77% of the GPU's memory-bandwidth ceiling" (John Musgrave, "vLLM
    throughput-latency sweep on NVIDIA A100", johnmusgrave.com, vLLM 0.23, 1024-in /
    128-out, --ignore-eos). So fixed_s = 16.06 GB / (HBM bandwidth x 0.775); this
    includes the scheduler/launch overhead, since the measurement is end to end.
  - KV read per context token of a decoding sequence: 128 KiB / (bandwidth x 0.775).
  - Prefill is compute-bound (Sarathi-Serve, Agrawal et al., OSDI'24; DistServe, Zhong et
    al., OSDI'24: prefill saturates compute, decode saturates memory bandwidth). Assumed
    model FLOPs utilisation 0.6 for the linear layers of a prefill chunk:
    per_prefill_token_s = 16.06 GFLOP / (peak BF16 dense x 0.6).
  - Attention in a prefill chunk of c tokens after n computed ones costs
    c x n + c (c + 1) / 2 pairs (causal); FlashAttention-2 reaches ~50% of peak on
    Ampere/Hopper (Dao, "FlashAttention-2", 2023): per pair 524288 / (peak x 0.5).
  - A decoding sequence's linear layers: the same FLOPs as a prefill token, but hidden
    under the weight read at small batches and run as skinny GEMMs at large ones. A line
    through max(weight read, batch x per-token compute) between batch 1 and 256 has a
    slope of ~0.45 x per_prefill_token_s, used as per_decode_seq_s. With ~1k-token
    contexts this gives ITL ~ 10 ms at batch 1 and ~ 27 ms at batch 128 on A100-80GB,
    the shape of the measured curve above (flat to C=8, then climbing).

GPU spec sheets (NVIDIA datasheets; dense BF16 tensor throughput, HBM bandwidth):
  A100-SXM4-80GB: 312 TFLOPS, 2039 GB/s, torch total ~79.15 GiB
  H100-SXM5-80GB: 989 TFLOPS, 3350 GB/s, torch total ~79.65 GiB (81559 MiB)
  RTX A6000 48GB: 154.8 TFLOPS (309.7 with sparsity), 768 GB/s, torch total ~47.54 GiB

Resulting numbers (seconds):
                     fixed     prefill/token  decode/seq   KV read/ctx token  attn/pair
  A100-80GB          10.16e-3  85.8e-6        38.6e-6      82.9e-9            3.36e-9
  H100-80GB           6.19e-3  27.1e-6        12.2e-6      50.5e-9            1.06e-9
  A6000-48GB         26.98e-3  172.9e-6       77.8e-6      220.2e-9           6.77e-9
  e.g. A100: a 1024-token uncached prompt alone: 10.2 + 87.9 + 1.8 ms ~ 100 ms to the
  first token; decode at batch 1 with 1k context: 10.2 + 0.04 + 0.08 ~ 10.3 ms.

  KV blocks: A100 (79.15 x 0.9 - 14.99 - 1.5) GiB / 2 MiB = 28029 blocks (448k tokens);
  H100 (79.65 x 0.9 - 14.99 - 2.5) / 2 MiB = 27747 blocks (444k tokens);
  A6000 (47.54 x 0.9 - 14.99 - 1.5) / 2 MiB = 13463 blocks (215k tokens).
  All hold max_model_len 131072 tokens, so vLLM would start with its defaults.

"instant": the A100 profile's cache and limits with every step cost zero, for driver
benchmarks where the model must not be the bottleneck.
*/

namespace detail {

inline constexpr double llama31_8b_weights_gib = 14.99;
inline constexpr std::size_t llama31_8b_kv_bytes_per_token = 2 * 32 * 8 * 128 * 2;
inline constexpr double llama31_8b_linear_flops_per_token = 2 * 8.03e9;
inline constexpr double llama31_8b_weight_bytes = 2 * 8.03e9;
inline constexpr double llama31_8b_attention_flops_per_pair = 4.0 * 32 * 32 * 128;
inline constexpr double measured_bandwidth_efficiency = 0.775;
inline constexpr double prefill_mfu = 0.6;
inline constexpr double attention_mfu = 0.5;
inline constexpr double decode_seq_fraction_of_prefill_token = 0.45;

inline step_cost roofline_cost(double bandwidth_bytes_s, double peak_flops) {
  const double prefill = llama31_8b_linear_flops_per_token / (peak_flops * prefill_mfu);
  return step_cost{
      .fixed_s = llama31_8b_weight_bytes / (bandwidth_bytes_s * measured_bandwidth_efficiency),
      .per_prefill_token_s = prefill,
      .per_decode_seq_s = prefill * decode_seq_fraction_of_prefill_token,
      .per_decode_context_token_s = static_cast<double>(llama31_8b_kv_bytes_per_token) /
                                    (bandwidth_bytes_s * measured_bandwidth_efficiency),
      .per_prefill_attention_pair_s = llama31_8b_attention_flops_per_pair / (peak_flops * attention_mfu),
  };
}

inline profile make_llama31_8b(std::string name, std::string gpu, double memory_gib,
                               double activation_gib, std::size_t max_num_seqs,
                               std::size_t max_num_batched_tokens, step_cost cost) {
  profile p;
  p.name = std::move(name);
  p.model = "meta-llama/Llama-3.1-8B-Instruct";
  p.gpu = std::move(gpu);
  p.gpu_memory_gib = memory_gib;
  p.gpu_memory_utilization = 0.9;
  p.weights_gib = llama31_8b_weights_gib;
  p.activation_reserve_gib = activation_gib;
  p.kv_bytes_per_token = llama31_8b_kv_bytes_per_token;
  p.block_size = 16;
  p.num_gpu_blocks = kv_blocks_from_memory(memory_gib, p.gpu_memory_utilization, p.weights_gib,
                                           activation_gib, p.kv_bytes_per_token, p.block_size);
  p.max_model_len = 131072;
  p.max_num_seqs = max_num_seqs;
  p.max_num_batched_tokens = max_num_batched_tokens;
  p.cost = cost;
  return p;
}

inline const std::array<profile, 4>& profiles_table() {
  static const std::array<profile, 4> table = [] {
    auto a100 = make_llama31_8b("llama-3.1-8b-a100-80gb", "NVIDIA A100-SXM4-80GB", 79.15, 1.5, 256, 2048,
                                roofline_cost(2039e9, 312e12));
    auto a6000 = make_llama31_8b("llama-3.1-8b-a6000-48gb", "NVIDIA RTX A6000", 47.54, 1.5, 256, 2048,
                                 roofline_cost(768e9, 154.8e12));
    auto h100 = make_llama31_8b("llama-3.1-8b-h100-80gb", "NVIDIA H100 80GB HBM3", 79.65, 2.5, 1024, 8192,
                                roofline_cost(3350e9, 989e12));
    auto instant = a100;
    instant.name = "instant";
    instant.cost = step_cost{};
    return std::array<profile, 4>{a100, a6000, h100, instant};
  }();
  return table;
}

}  // namespace detail

std::size_t kv_blocks_from_memory(double gpu_memory_gib, double gpu_memory_utilization, double weights_gib,
                                  double activation_reserve_gib, std::size_t kv_bytes_per_token,
                                  std::size_t block_size) noexcept {
  const double available = gpu_memory_gib * gpu_memory_utilization - weights_gib - activation_reserve_gib;
  if (available <= 0 || kv_bytes_per_token == 0 || block_size == 0) return 0;
  const double bytes = available * 1024.0 * 1024.0 * 1024.0;
  // NaN or absurd flag values (1e30 GiB) give no count rather than an undefined cast.
  return planetserve::detail::checked_cast<std::size_t>(std::floor(bytes / static_cast<double>(block_size * kv_bytes_per_token)))
      .value_or(0);
}

std::span<const profile> builtin_profiles() noexcept {
  const auto& t = detail::profiles_table();
  return {t.data(), t.size()};
}

const profile& default_profile() noexcept { return detail::profiles_table()[0]; }

const profile* find_profile(std::string_view name) noexcept {
  const auto& t = detail::profiles_table();
  std::string_view full = name;
  if (name == "a100" || name == "a100-80gb") full = "llama-3.1-8b-a100-80gb";
  else if (name == "a6000" || name == "a6000-48gb") full = "llama-3.1-8b-a6000-48gb";
  else if (name == "h100" || name == "h100-80gb") full = "llama-3.1-8b-h100-80gb";
  for (const auto& p : t)
    if (p.name == full) return &p;
  return nullptr;
}

}  // namespace planetserve::sim
