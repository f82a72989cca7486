// SPDX-License-Identifier: MIT
// hrtree::tree: the HR-tree prefix index: which servers (we believe) hold which chained blocks.
#pragma once

#include <planetserve/hrtree/block_hasher.hpp>
#include <planetserve/hrtree/detail/probe_table.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace planetserve::hrtree {

/// How the index decides which blocks a server still holds.
enum class memory_model : std::uint8_t {
  /// Each server keeps up to its capacity in blocks and evicts least recently used blocks,
  /// deepest first: what a vLLM server with prefix caching actually does.
  lru_blocks,
  /// Each server remembers the blocks of its last `recent_prompts` prompts only: the seed
  /// workload measurer's model (its `max_cached_request` = 10).
  recent_prompts,
};

/// "lru-blocks" or "recent-prompts".
std::string_view to_string(memory_model m) noexcept;
/// Parses the names to_string() gives; nullopt for anything else.
std::optional<memory_model> parse_memory_model(std::string_view name) noexcept;

/// Settings of the HR-tree.
struct tree_config {
  std::size_t chunk_tokens = 16;                   ///< tokens per block (vLLM: 16; the seed used 10)
  std::uint64_t seed = 0;                          ///< hash seed; use one per model
  memory_model memory = memory_model::lru_blocks;  ///< how servers forget blocks
  std::size_t capacity_blocks = 65'536;            ///< lru_blocks: per-server capacity until set_capacity() gives the KV size
  std::size_t recent_prompts = 10;                 ///< recent_prompts: prompts each server remembers
};

/// The index: block key -> servers holding that block, plus per-server recency.
///
/// Every server's set of blocks is prefix-closed (holding a block implies holding its
/// parent), so "how many leading blocks of this prompt does server s hold" is well defined
/// and one walk down the prompt's keys answers it for every server at once. Up to 64
/// servers that walk intersects one 64-bit mask per block; beyond 64 the mask is a filter
/// by server number modulo 64 and each candidate is confirmed in its own table.
///
/// Memory is bounded by the capacities: a server over capacity evicts its least recently
/// used block, which is always a deepest one because inserting a prompt refreshes its
/// blocks root-last. Each eviction is O(1) amortised; nothing ever sweeps the tree.
///
/// Not thread-safe (one io_context, one thread); match() uses internal scratch space.
class tree {
 public:
  using server = std::uint32_t;

  explicit tree(std::size_t servers, tree_config config = {});
  tree(tree&&) noexcept;
  tree& operator=(tree&&) noexcept;
  ~tree();

  std::size_t servers() const noexcept { return servers_.size(); }
  const tree_config& config() const noexcept { return config_; }
  const block_hasher& hasher() const noexcept { return hasher_; }

  /// For every server s < servers(), depth[s] = how many leading blocks of `keys` s holds.
  /// `depth` must have at least servers() entries. Returns the largest depth.
  std::uint32_t match(std::span<const block_key> keys, std::span<std::uint32_t> depth) const;

  /// How many leading blocks of `keys` server `s` holds.
  std::uint32_t match(server s, std::span<const block_key> keys) const;

  /// Records that server `s` now holds (and has just used) every block of `keys`; evicts
  /// under lru_blocks, forgets its oldest prompt under recent_prompts. A prompt longer
  /// than the capacity keeps only its first `capacity` blocks. No-op for a removed server.
  void insert(server s, std::span<const block_key> keys);

  /// Sets server `s`'s capacity in blocks (e.g. its KV cache's num_gpu_blocks), evicting now
  /// if it holds more. Only lru_blocks uses it.
  void set_capacity(server s, std::size_t blocks);
  std::size_t capacity(server s) const noexcept;

  /// Forgets everything server `s` holds (its cache was reset). O(its blocks).
  void clear(server s);
  /// Server `s` left: forget its blocks, free its memory and ignore inserts until restore(s).
  void remove(server s);
  /// Server `s` is back (empty).
  void restore(server s);
  bool active(server s) const noexcept;

  /// Forgets every block of every server; capacities and removals stay.
  void clear();

  /// Blocks server `s` holds.
  std::size_t held_blocks(server s) const noexcept;
  /// Sum of held_blocks() over servers: the number of cached (server, block) pairs.
  std::size_t cached_blocks() const noexcept { return cached_; }
  /// Distinct blocks held by at least one server.
  std::size_t distinct_blocks() const noexcept { return nodes_.size(); }
  /// Heap bytes the index uses now.
  std::size_t memory_bytes() const noexcept;

  /// Checks internal consistency (tables, lists, masks, counts); for tests. O(everything).
  bool check() const;

 private:
  static constexpr std::uint32_t nil = 0xFFFF'FFFFu;

  struct node_slot {
    block_key key;
    std::uint64_t mask;  // bit s (narrow) or s % 64 (wide): who holds this block
  };
  struct node_traits {
    static bool empty(const node_slot& s) noexcept { return s.key == 0; }
    static node_slot empty_slot() noexcept { return {0, 0}; }
    static std::uint64_t key(const node_slot& s) noexcept { return s.key; }
  };
  // A server's entry for one held block: the holding's index and the key's high half, which
  // both picks the home slot and filters before the holding itself is read.
  struct held_slot {
    std::uint32_t index;
    std::uint32_t high;
  };
  struct held_traits {
    static bool empty(const held_slot& s) noexcept { return s.index == nil; }
    static held_slot empty_slot() noexcept { return {nil, 0}; }
    static std::uint64_t key(const held_slot& s) noexcept {
      return static_cast<std::uint64_t>(s.high) << 32;
    }
  };
  // One (server, block) pair; prev/next link the server's LRU list (head = most recent).
  struct holding {
    block_key key;
    std::uint32_t prev;
    std::uint32_t next;
  };
  struct server_state {
    std::uint32_t head = nil;
    std::uint32_t tail = nil;
    std::size_t count = 0;
    std::size_t capacity = 0;
    bool active = true;
    detail::probe_table<held_slot, held_traits> held;
    std::vector<std::vector<block_key>> recent;  // ring of remembered prompts (recent_prompts)
    std::size_t recent_next = 0;
    std::size_t recent_size = 0;
  };

  static constexpr std::size_t chunk_shift = 12;
  static constexpr std::size_t chunk_size = std::size_t{1} << chunk_shift;

  holding& at(std::uint32_t h) noexcept { return chunks_[h >> chunk_shift][h & (chunk_size - 1)]; }
  const holding& at(std::uint32_t h) const noexcept {
    return chunks_[h >> chunk_shift][h & (chunk_size - 1)];
  }
  std::uint32_t find_held(server s, block_key k) const noexcept;
  std::uint32_t allocate(block_key k);
  void release(std::uint32_t h) noexcept;
  void unlink(server_state& st, std::uint32_t h) noexcept;
  void link_after(server_state& st, std::uint32_t anchor, std::uint32_t h) noexcept;
  void node_add(server s, block_key k);
  void node_drop(server s, block_key k) noexcept;
  void drop_holding(server s, std::uint32_t h) noexcept;
  void forget_prompt(server s, const std::vector<block_key>& keys) noexcept;
  std::size_t node_limit() const noexcept;
  std::uint64_t bit(server s) const noexcept { return std::uint64_t{1} << (s & 63u); }

  tree_config config_;
  block_hasher hasher_;
  bool wide_;
  std::vector<server_state> servers_;
  detail::probe_table<node_slot, node_traits> nodes_;
  std::vector<std::unique_ptr<holding[]>> chunks_;
  std::uint32_t pool_used_ = 0;   // holdings ever handed out (high-water mark)
  std::uint32_t free_ = nil;      // free list through holding::next
  std::vector<std::uint32_t> refs_;  // recent_prompts: how many remembered prompts use a holding
  std::size_t cached_ = 0;
  std::size_t total_capacity_ = 0;
  mutable std::vector<std::uint32_t> scratch_;
  mutable std::vector<server> alive_;
};

}  // namespace planetserve::hrtree
