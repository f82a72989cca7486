// SPDX-License-Identifier: MIT
// kvevents::event: vLLM's KV-cache events (BlockStored, BlockRemoved, AllBlocksCleared) and their batch.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace planetserve::kvevents {

/// A block hash as the server published it, folded to 64 bits: an integer hash as its
/// two's-complement bits, a byte-string hash (vLLM's sha256 ExternalBlockHash) as the XXH3-64
/// of its bytes. Used only as an opaque name: nothing here depends on how vLLM hashes.
using block_hash = std::uint64_t;

/// BlockStored (vllm/distributed/kv_events.py): full blocks entered the prefix cache.
struct block_stored {
  std::vector<block_hash> block_hashes;         ///< the stored blocks, in prefix order
  std::optional<block_hash> parent_block_hash;  ///< the block the first one chains on; none: a prompt's first block
  std::vector<tokenize::token_id> token_ids;    ///< the stored blocks' tokens, block_size per block
  std::uint32_t block_size = 16;                ///< tokens per block
  std::optional<std::int64_t> lora_id;          ///< the LoRA adapter, if any
  std::optional<std::string> medium;            ///< where the blocks live ("GPU"); none: unsaid (older vLLM)
};

/// BlockRemoved: blocks left the prefix cache (evicted).
struct block_removed {
  std::vector<block_hash> block_hashes;  ///< the removed blocks
  std::optional<std::string> medium;     ///< where they lived ("GPU")
};

/// AllBlocksCleared: the whole prefix cache was dropped (reset_prefix_cache).
struct all_blocks_cleared {};

/// One KV-cache event.
using event = std::variant<block_stored, block_removed, all_blocks_cleared>;

/// KVEventBatch: the events of one engine step, as one published message.
struct event_batch {
  double ts = 0;                                   ///< the server's time.time() when published
  std::vector<event> events;                       ///< in the order they happened
  std::optional<std::int64_t> data_parallel_rank;  ///< the publishing engine's DP rank (newer vLLM)
  std::size_t ignored_events = 0;                  ///< decoded only: events of a kind this version does not know, skipped
};

}  // namespace planetserve::kvevents
