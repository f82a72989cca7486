// SPDX-License-Identifier: MIT
// sim::kv_cache: vLLM V1's block pool with prefix caching (chained block hashes, LRU free queue).
#pragma once

#include <planetserve/kvevents/event.hpp>
#include <planetserve/tokenize/tokenizer.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace planetserve::sim {

/// Index of a KV block; block 0 is vLLM's "null block", never handed out.
using block_id = std::uint32_t;

/// Hash of a full block: chained on the parent block's hash, so equal hashes mean equal
/// prefixes (up to 64-bit collisions).
using block_hash = std::uint64_t;

/// The hash vLLM's first block chains on (a fixed seed here, so runs are reproducible).
inline constexpr block_hash root_block_hash = 0x9e3779b97f4a7c15ULL;

/// Hash of the block holding `tokens` (exactly block_size of them) after `parent`.
block_hash hash_block(block_hash parent, std::span<const tokenize::token_id> tokens) noexcept;

/// Appends to `out` the hashes of the full blocks of `tokens` beyond those already in `out`.
void extend_block_hashes(std::span<const tokenize::token_id> tokens, std::size_t block_size,
                         std::vector<block_hash>& out);

/// The GPU block pool as vLLM V1 keeps it (vllm/v1/core/block_pool.py): free blocks in a
/// queue whose front is evicted first; a freed request's blocks go to the back, last
/// block first, so a prefix's tail is evicted before its head; full blocks keep their
/// hash while free and can be revived by a later request until evicted.
class kv_cache {
 public:
  /// `num_blocks` includes the null block, as vLLM's num_gpu_blocks does. Throws
  /// std::invalid_argument for fewer than 2 blocks or a block_size of 0.
  kv_cache(std::size_t num_blocks, std::size_t block_size, bool enable_prefix_caching);

  /// Blocks in the pool.
  std::size_t num_blocks() const noexcept { return num_blocks_; }
  /// Tokens per block.
  std::size_t block_size() const noexcept { return block_size_; }
  /// Whether full blocks are kept for reuse (vLLM's --enable-prefix-caching).
  bool prefix_caching() const noexcept { return caching_; }

  /// Blocks in the free queue (including cached ones that could be evicted).
  std::size_t num_free_blocks() const noexcept { return free_count_; }

  /// vLLM's usage: 1 - free / (total - 1), the null block left out (0 when idle).
  double usage() const noexcept;

  /// How many leading blocks of `hashes` are cached, at most `max_blocks`.
  std::size_t longest_cache_hit(std::span<const block_hash> hashes, std::size_t max_blocks) const;

  /// How many of the blocks for the first `n` hashes (all cached) are in the free queue.
  std::size_t num_free_among(std::span<const block_hash> hashes, std::size_t n) const;

  /// The blocks for the first `n` hashes (which must all be cached): removed from the free
  /// queue if free, reference count incremented. Appended to `out`.
  void touch(std::span<const block_hash> hashes, std::size_t n, std::vector<block_id>& out);

  /// Pops `n` blocks from the front of the free queue (evicting cached ones). Requires
  /// n <= num_free_blocks().
  void allocate(std::size_t n, std::vector<block_id>& out);

  /// Marks `block` full with `hash`; false (nothing done) if caching is off or the hash is
  /// already cached by another block.
  bool cache_block(block_id block, block_hash hash);

  /// Decrements reference counts of `blocks` taken in reverse order; blocks reaching zero
  /// go to the back of the free queue.
  void free(std::span<const block_id> blocks);

  /// Drops every cached hash. Fails (false) while any block is in use, as vLLM does.
  bool reset_prefix_cache();

  /// Starts or stops keeping KV-cache events (vLLM's enable_kv_cache_events): evictions as
  /// BlockRemoved, reset_prefix_cache() as AllBlocksCleared, and what record() is given.
  void enable_events(bool on) noexcept { events_on_ = on; }
  /// Whether events are kept.
  bool events_enabled() const noexcept { return events_on_; }
  /// Appends `e` to the events, in order with the cache's own (the engine's BlockStored).
  void record(kvevents::event e);
  /// The events since the last call, oldest first.
  std::vector<kvevents::event> take_events() { return std::exchange(events_, {}); }

  /// Number of cached (hashed) blocks.
  std::size_t num_cached_blocks() const noexcept { return by_hash_.size(); }

  /// The free queue from front (next evicted) to back, for tests.
  std::vector<block_id> free_queue() const;

  /// Whether `hash` is cached, for tests.
  bool is_cached(block_hash hash) const { return by_hash_.count(hash) != 0; }

 private:
  static constexpr block_id none = 0xffffffffU;
  struct block {
    std::uint32_t ref = 0;
    block_id prev = none, next = none;  // free-queue links
    bool in_free = false;
    bool hashed = false;
    block_hash hash = 0;
  };
  void unlink(block_id b) noexcept;
  void push_back(block_id b) noexcept;

  std::size_t num_blocks_;
  std::size_t block_size_;
  bool caching_;
  std::vector<block> blocks_;
  block_id head_ = none, tail_ = none;
  std::size_t free_count_ = 0;
  boost::unordered_flat_map<block_hash, block_id> by_hash_;  // open addressing: caching and evicting a block allocate nothing
  bool events_on_ = false;
  std::vector<kvevents::event> events_;
};

}  // namespace planetserve::sim
