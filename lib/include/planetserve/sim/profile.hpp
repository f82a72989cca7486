// SPDX-License-Identifier: MIT
// sim::profile: a model on a GPU as the emulator sees it: step-time costs, KV-cache size, vLLM defaults.
#pragma once

#include <planetserve/error.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace planetserve::sim {

/// Cost of one engine step, in seconds. Every coefficient is derived from the model's
/// shape and the GPU's spec sheet in impl/profile.ipp; engine.ipp combines them:
///   cpu + max(weight read, prefill linear compute) + decode linear compute (CUDA-graph
///   padded batch) + KV read + prefill attention + tensor-parallel all-reduces,
/// times an optional seeded jitter. The weight read overlaps the compute-bound prefill
/// GEMMs, so a prefill step pays the larger of the two, not both.
struct step_cost {
  double fixed_s = 0;                 ///< weight read of one forward pass (per GPU: weights / TP)
  double per_prefill_token_s = 0;     ///< linear-layer compute of each prompt (or recomputed) token
  double per_decode_seq_s = 0;        ///< linear layers of each decoding sequence (skinny GEMMs)
  double per_decode_context_token_s = 0;  ///< KV read: per token of context of each decoding sequence
  double per_prefill_attention_pair_s = 0;  ///< per (query token, key token) pair in a prefill chunk (causal)
  double cpu_per_step_s = 0;          ///< host time of a step: scheduling, input preparation, launch
  double cpu_per_seq_s = 0;           ///< host time per scheduled sequence (inputs, sampling, output processing)
  double allreduce_per_step_s = 0;    ///< tensor parallel: latency of the step's all-reduces (2 per layer)
  double allreduce_per_token_s = 0;   ///< tensor parallel: all-reduce transfer per token computed
};

/// A model architecture, from its Hugging Face config.json (sources in impl/profile.ipp).
struct model_spec {
  std::string id;                      ///< Hugging Face id: what --model names and vLLM serves by default
  std::string short_name;              ///< e.g. "llama-3.1-8b" (also accepted by --model)
  std::size_t num_layers = 0;          ///< num_hidden_layers
  std::size_t hidden_size = 0;         ///< hidden_size
  std::size_t num_attention_heads = 0;  ///< num_attention_heads
  std::size_t num_kv_heads = 0;        ///< num_key_value_heads (grouped-query attention)
  std::size_t head_dim = 0;            ///< hidden_size / num_attention_heads (or head_dim)
  std::size_t intermediate_size = 0;   ///< MLP width (gate, up and down projections)
  std::size_t vocab_size = 0;          ///< embedding and LM-head rows
  bool tie_word_embeddings = false;    ///< the LM head shares the embedding's weights
  bool qkv_bias = false;               ///< Qwen2: q/k/v projections carry biases
  std::size_t max_position_embeddings = 0;  ///< vLLM's default max_model_len
  std::optional<std::size_t> max_num_batched_tokens;  ///< the --max-num-batched-tokens the seed served it with (absent: vLLM's default)

  /// Parameters, counted from the shapes above.
  double parameters() const noexcept;
  /// BF16 weight bytes (2 per parameter).
  double weight_bytes() const noexcept { return 2.0 * parameters(); }
  /// Linear-layer FLOPs per token (2 per weight that multiplies; the embedding lookup is free).
  double linear_flops_per_token() const noexcept;
  /// Attention FLOPs per (query, key) pair: QK^T and PV, 2 FLOPs per multiply-add.
  double attention_flops_per_pair() const noexcept {
    return 4.0 * static_cast<double>(num_layers * num_attention_heads * head_dim);
  }
};

/// A GPU, from its datasheet (sources in impl/profile.ipp).
struct gpu_spec {
  std::string name;                 ///< what --gpu names, e.g. "A100-80GB"
  std::string device_name;          ///< as torch.cuda.get_device_name() shows it
  double memory_gib = 0;            ///< total device memory torch reports (a little below the marketing number)
  double memory_bandwidth = 0;      ///< HBM/GDDR bytes per second
  double bf16_flops = 0;            ///< dense BF16 tensor-core FLOP/s (without sparsity)
  double link_bandwidth = 0;        ///< GPU-to-GPU bytes per second, one direction (NVLink, else PCIe)
  double link_latency_s = 0;        ///< one small all-reduce across the link
  bool is_a100 = false;             ///< vLLM keeps the small batch defaults on A100s (PR #17885)
};

/// A model served on one GPU (or TP GPUs): what vLLM would choose by default and how fast
/// steps run. Every number is derived in impl/profile.ipp, with its source.
struct profile {
  std::string name;                 ///< what --profile selects, e.g. "llama-3.1-8b-a100-80gb"
  std::string model;                ///< the default served model name (the Hugging Face id)
  std::string architecture;         ///< model_spec::short_name of the model
  std::string gpu_name;             ///< gpu_spec::name of the GPU
  std::string gpu;                  ///< the GPU, as vLLM's device name would show it
  std::size_t tensor_parallel_size = 1;  ///< GPUs the model is split over (--tensor-parallel-size)
  double gpu_memory_gib = 0;        ///< total device memory vLLM sees (torch.cuda.mem_get_info), per GPU
  double gpu_memory_utilization = 0.9;  ///< vLLM's --gpu-memory-utilization default
  double weights_gib = 0;           ///< memory the weights take once loaded, per GPU
  double activation_reserve_gib = 0;  ///< peak activations + non-torch memory found by vLLM's profile run
  std::size_t kv_bytes_per_token = 0;  ///< per GPU: 2 (K,V) x layers x KV heads / TP x head dim x dtype bytes
  std::size_t block_size = 16;      ///< tokens per KV block (vLLM's default on CUDA)
  std::size_t num_gpu_blocks = 0;   ///< KV-cache blocks, from the memory arithmetic above
  std::size_t max_model_len = 0;    ///< the model's context length (vLLM default: from its config)
  std::size_t max_num_seqs = 256;   ///< vLLM's default for the OpenAI server on this GPU
  std::size_t max_num_batched_tokens = 2048;  ///< vLLM V1's default for the OpenAI server on this GPU
  step_cost cost;                   ///< step-time model
};

/// The models --model knows.
std::span<const model_spec> known_models() noexcept;
/// The GPUs --gpu knows.
std::span<const gpu_spec> known_gpus() noexcept;
/// A model by Hugging Face id, id without the organisation, or short name (any case); nullptr if unknown.
const model_spec* find_model(std::string_view name) noexcept;
/// A GPU by name ("A100-80GB", "a100", "H200", ...; any case); nullptr if unknown.
const gpu_spec* find_gpu(std::string_view name) noexcept;
/// "id (short), ..." of every known model, for error messages.
std::string known_model_names();
/// "A100-80GB, ..." of every known GPU, for error messages.
std::string known_gpu_names();

/// `model` on `tp` GPUs of kind `gpu`, with vLLM's defaults and the derived step costs.
/// Fails (error::invalid_argument) when tp is 0 or does not divide the attention heads,
/// as vLLM refuses it.
result<profile> make_profile(const model_spec& model, const gpu_spec& gpu, std::size_t tp, diagnostics& diag);

/// The named profiles; the first one is the default.
std::span<const profile> builtin_profiles() noexcept;

/// The default profile (Llama-3.1-8B on A100-80GB).
const profile& default_profile() noexcept;

/// The profile named `name` (also accepts the short aliases "a100", "a6000", "h100",
/// "instant"), or nullptr.
const profile* find_profile(std::string_view name) noexcept;

/// What a command line asks for: a named profile, optionally with its model, GPU or TP replaced.
struct profile_choice {
  std::string profile;              ///< --profile (empty: the default profile)
  std::string model;                ///< --model: a known architecture (empty: the profile's)
  std::string gpu;                  ///< --gpu (empty: the profile's)
  std::size_t tensor_parallel_size = 0;  ///< --tensor-parallel-size (0: the profile's)
};

/// Resolves a choice. Unknown names fail with error::invalid_argument and a message listing
/// the known ones. A choice based on "instant" keeps its zero step costs.
result<profile> choose_profile(const profile_choice& choice, diagnostics& diag);

/// KV-cache blocks that fit: floor((mem * util - weights - activations) / (block_size * kv_bytes_per_token)).
std::size_t kv_blocks_from_memory(double gpu_memory_gib, double gpu_memory_utilization,
                                  double weights_gib, double activation_reserve_gib,
                                  std::size_t kv_bytes_per_token, std::size_t block_size) noexcept;

}  // namespace planetserve::sim
