// SPDX-License-Identifier: MIT
// The emulator's models, GPUs and named profiles, with how every number was derived and from where.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/sim/profile.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace planetserve::sim {

/*
Models (BF16 weights; every shape from the model's config.json on Hugging Face):
  meta-llama/Llama-3.1-8B-Instruct
    https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json
    32 layers, hidden 4096, 32 heads, 8 KV heads, head dim 128, intermediate 14336,
    vocab 128256, untied embeddings, max_position_embeddings 131072.
    -> 8.030e9 parameters (14.96 GiB; vLLM logs "Loading model weights took 14.99 GiB"),
       KV 128 KiB per token.
  meta-llama/Llama-3.1-70B-Instruct
    https://huggingface.co/meta-llama/Llama-3.1-70B-Instruct/blob/main/config.json
    80 layers, hidden 8192, 64 heads, 8 KV heads, head dim 128, intermediate 28672,
    vocab 128256, untied, max_position_embeddings 131072.
    -> 70.55e9 parameters (131.4 GiB: needs TP >= 2 on 80 GB GPUs), KV 320 KiB per token.
  deepseek-ai/DeepSeek-R1-Distill-Qwen-14B (Qwen2 architecture, q/k/v biases)
    https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-14B/blob/main/config.json
    48 layers, hidden 5120, 40 heads, 8 KV heads, head dim 128, intermediate 13824,
    vocab 152064, untied, max_position_embeddings 131072.
    -> 14.77e9 parameters (27.5 GiB), KV 192 KiB per token. The seed served it with
       --max_num_batched_tokens=16384 (seed README, step 4.2), which the model keeps.
  Qwen/Qwen2.5-7B-Instruct (Qwen2, q/k/v biases)
    https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/main/config.json
    28 layers, hidden 3584, 28 heads, 4 KV heads, head dim 128, intermediate 18944,
    vocab 152064, untied, max_position_embeddings 32768.
    -> 7.62e9 parameters (14.2 GiB), KV 56 KiB per token.
  Parameters are counted from the shapes (embedding + LM head + per layer q, k, v, o,
  gate, up, down and two norms); linear FLOPs per token = 2 x (parameters - embedding);
  attention FLOPs per (query, key) pair = 4 x layers x heads x head dim.

GPUs (NVIDIA datasheets; dense BF16 tensor FLOP/s without sparsity, memory bandwidth,
GPU-to-GPU bandwidth in one direction):
  A100-80GB  A100-SXM4-80GB: 312 TFLOPS, 2039 GB/s, NVLink 3 600 GB/s (300 each way);
             torch total ~79.15 GiB.
             https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf
  A100-40GB  A100-SXM4-40GB: 312 TFLOPS, 1555 GB/s, NVLink 600 GB/s; 40536 MiB = 39.59 GiB
             (same datasheet).
  A6000      RTX A6000: 154.8 TFLOPS (309.7 with sparsity), 768 GB/s GDDR6, 48 GB;
             torch total ~47.54 GiB; TP goes over PCIe 4.0 x16 (64 GB/s, 32 each way;
             the NVLink bridge joins only pairs).
             https://www.nvidia.com/content/dam/en-zz/Solutions/design-visualization/quadro-product-literature/proviz-print-nvidia-rtx-a6000-datasheet-us-nvidia-1454980-r9-web%20(1).pdf
  H100       H100-SXM5-80GB: 989 TFLOPS, 3350 GB/s, NVLink 4 900 GB/s (450 each way);
             torch total ~79.65 GiB (81559 MiB).
             https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet
  H200       H200-SXM-141GB: 989 TFLOPS (1979 with sparsity), 4.8 TB/s HBM3e, NVLink 900
             GB/s; 143771 MiB = 140.4 GiB as nvidia-smi shows it.
             https://www.nvidia.com/en-us/data-center/h200/

KV blocks (vLLM V1 gpu_worker.determine_available_memory): per GPU, total x
gpu_memory_utilization - weights / TP - peak activation of the profile run - non-torch
memory; blocks = floor(available / (block_size x KV bytes per token per GPU)). The reserve
is an estimate: 1.17 GiB (non-torch memory, CUDA graphs, sampler buffers) plus
max_num_batched_tokens x intermediate_size / TP x 12 bytes (the MLP's gate/up output and
its temporaries), which gives the ~1.5 GiB vLLM logs for 8B models at 2048 batched
tokens and ~2.5 GiB at 8192.

Defaults from vLLM (vllm/engine/arg_utils.py, EngineArgs.get_batch_defaults, v0.10+):
device memory >= 70 GiB and not an A100 -> OpenAI server max_num_batched_tokens 8192,
max_num_seqs 1024; otherwise 2048 and 256 ("Setting large max_num_batched_tokens for A100
reduces throughput, see PR #17885"). A model that carries the seed's own
--max-num-batched-tokens (the 14B) uses that instead.

Step time (engine.ipp adds the terms up), from spec-sheet rooflines and efficiencies:
  - Weight read (fixed_s): weights / TP / (bandwidth x 0.82). Decode is memory-bound and
    reads every weight once per step. 0.82 of the datasheet bandwidth is what large
    GEMVs reach once host time is counted separately (below); with it, batch-1 decode on
    an A100-40GB comes out at 70 tok/s against the ~75 tok/s measured with vLLM (John
    Musgrave, "vLLM throughput-latency sweep on NVIDIA A100", johnmusgrave.com).
  - KV read per context token of a decoding sequence: KV bytes per GPU / (bandwidth x 0.82).
  - Prefill linear layers (per_prefill_token_s): linear FLOPs / TP / (peak x 0.55), model
    FLOPs utilisation of prefill chunks (compute-bound: Sarathi-Serve, OSDI'24; DistServe,
    OSDI'24). The weight read overlaps these GEMMs, so a step pays max(weight read,
    prefill compute), not their sum.
  - Attention in a prefill chunk of c tokens after n computed ones costs c n + c (c+1)/2
    pairs (causal) at 50% of peak (FlashAttention-2, Dao 2023), split over TP GPUs.
  - Decode linear layers (per_decode_seq_s): 0.45 x a prefill token's cost per sequence
    of the CUDA-graph-padded decode batch: skinny GEMMs hidden under the weight read at
    small batches; a line through max(weight read, batch x per-token compute) between
    batch 1 and 256 has that slope.
  - Host time: 1.5 ms per step (scheduler, input preparation, launch) + 25 us per
    scheduled sequence (its inputs, sampling bookkeeping, detokenizing and streaming its
    output). With these, vLLM CI's latency_llama8B_tp1 (A100-80GB, batch 8, 32 in, 128
    out; measured 1,585 ms) comes out at ~1.5 s (README, validation table).
  - Tensor parallelism: weights, KV heads (at least one per GPU, as vLLM replicates them),
    linear and attention FLOPs are split over TP GPUs. Each layer then does two
    all-reduces (after attention and after the MLP) of tokens x hidden x 2 bytes: a ring
    all-reduce moves 2 (TP-1)/TP of that over each link, at 70% of the link bandwidth,
    plus a latency per all-reduce (8 us over NVLink, 25 us over PCIe; vLLM's custom
    all-reduce for small messages). They are charged on top of the compute, not
    overlapped (vLLM does not overlap them with the GEMMs).

Resulting numbers for Llama-3.1-8B on an A100-80GB (seconds): weight read 9.61e-3,
prefill/token 87.5e-6, decode/seq 39.4e-6, KV read/context token 78.4e-9, attention/pair
3.36e-9. A 1024-token uncached prompt alone: 1.5 + 89.6 + 1.8 ms ~ 93 ms to the first
token; decode at batch 1 with 1k context: 1.5 + 9.6 + 0.04 + 0.08 ~ 11.3 ms.
KV blocks: (79.15 x 0.9 - 14.96 - 1.50) GiB / 2 MiB = 28047 blocks (449k tokens).

"instant": the A100 profile's cache and limits with every step cost zero, for driver
benchmarks where the model must not be the bottleneck.
*/

namespace detail {

inline constexpr double bandwidth_efficiency = 0.82;
inline constexpr double prefill_mfu = 0.55;
inline constexpr double attention_mfu = 0.5;
inline constexpr double decode_seq_fraction_of_prefill_token = 0.45;
inline constexpr double cpu_per_step_s = 1.5e-3;
inline constexpr double cpu_per_seq_s = 25e-6;
inline constexpr double link_efficiency = 0.7;
inline constexpr double reserve_base_gib = 1.17;
inline constexpr double reserve_bytes_per_batched_token_per_mlp_column = 12;
inline constexpr double gib = 1024.0 * 1024.0 * 1024.0;

inline const std::array<model_spec, 4>& models_table() {
  static const std::array<model_spec, 4> table{{
      {.id = "meta-llama/Llama-3.1-8B-Instruct", .short_name = "llama-3.1-8b", .num_layers = 32,
       .hidden_size = 4096, .num_attention_heads = 32, .num_kv_heads = 8, .head_dim = 128,
       .intermediate_size = 14336, .vocab_size = 128256, .tie_word_embeddings = false, .qkv_bias = false,
       .max_position_embeddings = 131072, .max_num_batched_tokens = std::nullopt},
      {.id = "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", .short_name = "deepseek-r1-distill-qwen-14b",
       .num_layers = 48, .hidden_size = 5120, .num_attention_heads = 40, .num_kv_heads = 8, .head_dim = 128,
       .intermediate_size = 13824, .vocab_size = 152064, .tie_word_embeddings = false, .qkv_bias = true,
       .max_position_embeddings = 131072, .max_num_batched_tokens = 16384},
      {.id = "meta-llama/Llama-3.1-70B-Instruct", .short_name = "llama-3.1-70b", .num_layers = 80,
       .hidden_size = 8192, .num_attention_heads = 64, .num_kv_heads = 8, .head_dim = 128,
       .intermediate_size = 28672, .vocab_size = 128256, .tie_word_embeddings = false, .qkv_bias = false,
       .max_position_embeddings = 131072, .max_num_batched_tokens = std::nullopt},
      {.id = "Qwen/Qwen2.5-7B-Instruct", .short_name = "qwen2.5-7b", .num_layers = 28, .hidden_size = 3584,
       .num_attention_heads = 28, .num_kv_heads = 4, .head_dim = 128, .intermediate_size = 18944,
       .vocab_size = 152064, .tie_word_embeddings = false, .qkv_bias = true, .max_position_embeddings = 32768,
       .max_num_batched_tokens = std::nullopt},
  }};
  return table;
}

inline const std::array<gpu_spec, 5>& gpus_table() {
  static const std::array<gpu_spec, 5> table{{
      {.name = "A100-80GB", .device_name = "NVIDIA A100-SXM4-80GB", .memory_gib = 79.15, .memory_bandwidth = 2039e9,
       .bf16_flops = 312e12, .link_bandwidth = 300e9, .link_latency_s = 8e-6, .is_a100 = true},
      {.name = "A100-40GB", .device_name = "NVIDIA A100-SXM4-40GB", .memory_gib = 39.59, .memory_bandwidth = 1555e9,
       .bf16_flops = 312e12, .link_bandwidth = 300e9, .link_latency_s = 8e-6, .is_a100 = true},
      {.name = "A6000", .device_name = "NVIDIA RTX A6000", .memory_gib = 47.54, .memory_bandwidth = 768e9,
       .bf16_flops = 154.8e12, .link_bandwidth = 32e9, .link_latency_s = 25e-6, .is_a100 = false},
      {.name = "H100", .device_name = "NVIDIA H100 80GB HBM3", .memory_gib = 79.65, .memory_bandwidth = 3350e9,
       .bf16_flops = 989e12, .link_bandwidth = 450e9, .link_latency_s = 8e-6, .is_a100 = false},
      {.name = "H200", .device_name = "NVIDIA H200", .memory_gib = 140.4, .memory_bandwidth = 4800e9,
       .bf16_flops = 989e12, .link_bandwidth = 450e9, .link_latency_s = 8e-6, .is_a100 = false},
  }};
  return table;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline double embedding_parameters(const model_spec& m) {
  return static_cast<double>(m.vocab_size) * static_cast<double>(m.hidden_size);
}

inline profile build_profile(const model_spec& m, const gpu_spec& g, std::size_t tp) {
  const double t = static_cast<double>(tp);
  profile p;
  p.model = m.id;
  p.architecture = m.short_name;
  p.gpu_name = g.name;
  p.gpu = g.device_name;
  p.tensor_parallel_size = tp;
  p.name = m.short_name + "-" + lower(g.name) + (tp > 1 ? "-tp" + std::to_string(tp) : std::string());
  p.gpu_memory_gib = g.memory_gib;
  p.gpu_memory_utilization = 0.9;
  const bool large = g.memory_gib >= 70 && !g.is_a100;
  p.max_num_seqs = large ? 1024 : 256;
  p.max_num_batched_tokens = m.max_num_batched_tokens.value_or(large ? 8192 : 2048);
  p.weights_gib = m.weight_bytes() / t / gib;
  p.activation_reserve_gib =
      reserve_base_gib + static_cast<double>(p.max_num_batched_tokens) * static_cast<double>(m.intermediate_size) / t *
                             reserve_bytes_per_batched_token_per_mlp_column / gib;
  const std::size_t kv_heads_per_gpu = std::max<std::size_t>(1, m.num_kv_heads / tp);
  p.kv_bytes_per_token = 2 * m.num_layers * kv_heads_per_gpu * m.head_dim * 2;
  p.block_size = 16;
  p.num_gpu_blocks = kv_blocks_from_memory(p.gpu_memory_gib, p.gpu_memory_utilization, p.weights_gib,
                                           p.activation_reserve_gib, p.kv_bytes_per_token, p.block_size);
  p.max_model_len = m.max_position_embeddings;

  const double bw = g.memory_bandwidth * bandwidth_efficiency;
  const double prefill = m.linear_flops_per_token() / t / (g.bf16_flops * prefill_mfu);
  step_cost& c = p.cost;
  c.fixed_s = m.weight_bytes() / t / bw;
  c.per_prefill_token_s = prefill;
  c.per_decode_seq_s = prefill * decode_seq_fraction_of_prefill_token;
  c.per_decode_context_token_s = static_cast<double>(p.kv_bytes_per_token) / bw;
  c.per_prefill_attention_pair_s = m.attention_flops_per_pair() / t / (g.bf16_flops * attention_mfu);
  c.cpu_per_step_s = cpu_per_step_s;
  c.cpu_per_seq_s = cpu_per_seq_s;
  if (tp > 1) {
    const double allreduces = 2.0 * static_cast<double>(m.num_layers);
    const double bytes_per_token = static_cast<double>(m.hidden_size) * 2.0;
    c.allreduce_per_step_s = allreduces * g.link_latency_s;
    c.allreduce_per_token_s =
        allreduces * 2.0 * (t - 1) / t * bytes_per_token / (g.link_bandwidth * link_efficiency);
  }
  return p;
}

inline const std::array<profile, 6>& profiles_table() {
  static const std::array<profile, 6> table = [] {
    const auto& m = models_table();
    const auto& g = gpus_table();
    auto a100 = build_profile(m[0], g[0], 1);
    auto instant = a100;
    instant.name = "instant";
    instant.cost = step_cost{};
    return std::array<profile, 6>{a100,
                                  build_profile(m[0], g[2], 1),
                                  build_profile(m[0], g[3], 1),
                                  instant,
                                  build_profile(m[1], g[0], 1),
                                  build_profile(m[2], g[3], 4)};
  }();
  return table;
}

}  // namespace detail

double model_spec::parameters() const noexcept {
  const double h = static_cast<double>(hidden_size);
  const double q = static_cast<double>(num_attention_heads * head_dim);
  const double kv = static_cast<double>(num_kv_heads * head_dim);
  const double per_layer = h * q * 2 + h * kv * 2 + (qkv_bias ? q + 2 * kv : 0.0) +
                           3 * h * static_cast<double>(intermediate_size) + 2 * h;
  const double embed = detail::embedding_parameters(*this);
  return embed * (tie_word_embeddings ? 1 : 2) + static_cast<double>(num_layers) * per_layer + h;
}

double model_spec::linear_flops_per_token() const noexcept {
  return 2.0 * (parameters() - detail::embedding_parameters(*this));
}

std::size_t kv_blocks_from_memory(double gpu_memory_gib, double gpu_memory_utilization, double weights_gib,
                                  double activation_reserve_gib, std::size_t kv_bytes_per_token,
                                  std::size_t block_size) noexcept {
  const double available = gpu_memory_gib * gpu_memory_utilization - weights_gib - activation_reserve_gib;
  if (available <= 0 || kv_bytes_per_token == 0 || block_size == 0) return 0;
  const double bytes = available * detail::gib;
  // NaN or absurd flag values (1e30 GiB) give no count rather than an undefined cast.
  return planetserve::detail::checked_cast<std::size_t>(std::floor(bytes / static_cast<double>(block_size * kv_bytes_per_token)))
      .value_or(0);
}

std::span<const model_spec> known_models() noexcept {
  const auto& t = detail::models_table();
  return {t.data(), t.size()};
}

std::span<const gpu_spec> known_gpus() noexcept {
  const auto& t = detail::gpus_table();
  return {t.data(), t.size()};
}

const model_spec* find_model(std::string_view name) noexcept {
  const std::string n = detail::lower(name);
  for (const auto& m : detail::models_table()) {
    const std::string id = detail::lower(m.id);
    const std::string bare = id.substr(id.find('/') + 1);
    if (n == id || n == bare || n == m.short_name) return &m;
  }
  return nullptr;
}

const gpu_spec* find_gpu(std::string_view name) noexcept {
  std::string n = detail::lower(name);
  if (n == "a100") n = "a100-80gb";
  else if (n == "a6000-48gb") n = "a6000";
  else if (n == "h100-80gb") n = "h100";
  else if (n == "h200-141gb") n = "h200";
  for (const auto& g : detail::gpus_table())
    if (n == detail::lower(g.name)) return &g;
  return nullptr;
}

std::string known_model_names() {
  std::string out;
  for (const auto& m : detail::models_table()) out += (out.empty() ? "" : ", ") + m.id + " (" + m.short_name + ")";
  return out;
}

std::string known_gpu_names() {
  std::string out;
  for (const auto& g : detail::gpus_table()) out += (out.empty() ? "" : ", ") + g.name;
  return out;
}

result<profile> make_profile(const model_spec& model, const gpu_spec& gpu, std::size_t tp, diagnostics& diag) {
  if (tp == 0 || model.num_attention_heads % tp != 0) {
    diag.message = "tensor parallel size " + std::to_string(tp) + " does not divide the " +
                   std::to_string(model.num_attention_heads) + " attention heads of " + model.id +
                   " (vLLM refuses it); give a divisor such as 1, 2 or 4";
    return make_error_code(error::invalid_argument);
  }
  auto p = detail::build_profile(model, gpu, tp);
  if (p.num_gpu_blocks < 2) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%s does not fit on %zu x %s: %.1f GiB of weights and %.1f GiB of activations per GPU leave no "
                  "room for a KV cache in %.2f x %.1f GiB; raise --tensor-parallel-size or pick a larger --gpu",
                  model.id.c_str(), tp, gpu.name.c_str(), p.weights_gib, p.activation_reserve_gib,
                  p.gpu_memory_utilization, p.gpu_memory_gib);
    diag.message = buf;
    return make_error_code(error::invalid_argument);
  }
  return p;
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
  else if (name == "a6000" || name == "a6000-48gb") full = "llama-3.1-8b-a6000";
  else if (name == "h100" || name == "h100-80gb") full = "llama-3.1-8b-h100";
  // The names these profiles had before the model and the GPU were separate.
  else if (name == "llama-3.1-8b-a6000-48gb") full = "llama-3.1-8b-a6000";
  else if (name == "llama-3.1-8b-h100-80gb") full = "llama-3.1-8b-h100";
  for (const auto& p : t)
    if (p.name == full) return &p;
  return nullptr;
}

result<profile> choose_profile(const profile_choice& choice, diagnostics& diag) {
  const profile* base = choice.profile.empty() ? &default_profile() : find_profile(choice.profile);
  if (!base) {
    std::string known;
    for (const auto& p : builtin_profiles()) known += (known.empty() ? "" : ", ") + p.name;
    diag.message = "unknown profile '" + choice.profile + "' (known: " + known + ")";
    return make_error_code(error::invalid_argument);
  }
  if (choice.model.empty() && choice.gpu.empty() && choice.tensor_parallel_size == 0) return *base;
  const model_spec* m = find_model(choice.model.empty() ? std::string_view(base->architecture) : choice.model);
  if (!m) {
    diag.message = "unknown model '" + choice.model + "' (known: " + known_model_names() + ")";
    return make_error_code(error::invalid_argument);
  }
  const gpu_spec* g = find_gpu(choice.gpu.empty() ? std::string_view(base->gpu_name) : choice.gpu);
  if (!g) {
    diag.message = "unknown GPU '" + choice.gpu + "' (known: " + known_gpu_names() + ")";
    return make_error_code(error::invalid_argument);
  }
  const std::size_t tp = choice.tensor_parallel_size ? choice.tensor_parallel_size : base->tensor_parallel_size;
  auto p = make_profile(*m, *g, tp, diag);
  if (!p) return p;
  if (base->name == "instant") {
    p->name = "instant";
    p->cost = step_cost{};
  }
  return p;
}

}  // namespace planetserve::sim
