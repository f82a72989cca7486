// SPDX-License-Identifier: MIT
// sim::profile: a model on a GPU as the emulator sees it: step-time costs, KV-cache size, vLLM defaults.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace planetserve::sim {

/// Cost of one engine step, in seconds, as a sum of linear terms. Prefill is
/// compute-bound (per uncached token), decode memory-bound (a fixed weight read per
/// step plus the KV read of every decoding sequence), attention grows with context.
struct step_cost {
  double fixed_s = 0;                 ///< every step that runs the model: weight read + launch/scheduler overhead
  double per_prefill_token_s = 0;     ///< each prompt (or recomputed) token computed this step
  double per_decode_seq_s = 0;        ///< each sequence that decodes one token this step (linear layers)
  double per_decode_context_token_s = 0;  ///< KV read: per token of context of each decoding sequence
  double per_prefill_attention_pair_s = 0;  ///< per (query token, key token) pair in a prefill chunk (causal)
};

/// A model served on one GPU: what vLLM would choose by default and how fast steps run.
/// Every number is derived in impl/profile.ipp, with its source.
struct profile {
  std::string name;                 ///< what --profile selects, e.g. "llama-3.1-8b-a100-80gb"
  std::string model;                ///< the default served model name
  std::string gpu;                  ///< the GPU, as vLLM's device name would show it
  double gpu_memory_gib = 0;        ///< total device memory vLLM sees (torch.cuda.mem_get_info)
  double gpu_memory_utilization = 0.9;  ///< vLLM's --gpu-memory-utilization default
  double weights_gib = 0;           ///< memory the weights take once loaded
  double activation_reserve_gib = 0;  ///< peak activations + non-torch memory found by vLLM's profile run
  std::size_t kv_bytes_per_token = 0;  ///< 2 (K,V) x layers x KV heads x head dim x dtype bytes
  std::size_t block_size = 16;      ///< tokens per KV block (vLLM's default on CUDA)
  std::size_t num_gpu_blocks = 0;   ///< KV-cache blocks, from the memory arithmetic above
  std::size_t max_model_len = 0;    ///< the model's context length (vLLM default: from its config)
  std::size_t max_num_seqs = 256;   ///< vLLM's default for the OpenAI server on this GPU
  std::size_t max_num_batched_tokens = 2048;  ///< vLLM V1's default for the OpenAI server on this GPU
  step_cost cost;                   ///< step-time model
};

/// The shipped profiles; the first one is the default.
std::span<const profile> builtin_profiles() noexcept;

/// The default profile (Llama-3.1-8B on A100-80GB).
const profile& default_profile() noexcept;

/// The profile named `name` (also accepts the short aliases "a100", "a6000", "h100",
/// "instant"), or nullptr.
const profile* find_profile(std::string_view name) noexcept;

/// KV-cache blocks that fit: floor((mem * util - weights - activations) / (block_size * kv_bytes_per_token)).
std::size_t kv_blocks_from_memory(double gpu_memory_gib, double gpu_memory_utilization,
                                  double weights_gib, double activation_reserve_gib,
                                  std::size_t kv_bytes_per_token, std::size_t block_size) noexcept;

}  // namespace planetserve::sim
