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

/// The index: which servers hold which prompt prefixes, with per-server recency.
///
/// Blocks are stored as a radix tree of segments: a segment is a run of consecutive blocks
/// (their chained keys, contiguous) that every prompt so far either covers whole or not at
/// all; a new prompt that stops or branches inside a segment splits it there. A hash table
/// maps each segment's first key to the segment, so matching a prompt costs one lookup per
/// segment plus a comparison per block, and a new prompt's unique tail is one segment.
///
/// A server holds a prefix of each segment (a "holding": server, segment, blocks held), so
/// every server's set of blocks is prefix-closed and "how many leading blocks of this
/// prompt does server s hold" is well defined; one walk answers it for all servers. Any
/// number of servers: each segment lists its holders, nothing is limited to 64.
///
/// Memory is bounded by the capacities: a server over capacity evicts blocks from its least
/// recently used holding, deepest blocks first. Inserting a prompt refreshes its holdings
/// root-last, so an ancestor is never less recent than its descendants and the LRU tail is
/// always a deepest holding. Each eviction is O(1) amortised per block; nothing ever sweeps.
///
/// Not thread-safe (one io_context, one thread); match() uses internal scratch space.
class tree {
 public:
  /// A server (node) index, 0..servers()-1.
  using server = std::uint32_t;

  /// An empty index over `servers` servers. Throws std::invalid_argument for more servers than
  /// a holding index can name, or a config.chunk_tokens of 0.
  explicit tree(std::size_t servers, tree_config config = {});
  /// Moves the index.
  tree(tree&&) noexcept;
  /// Moves the index.
  tree& operator=(tree&&) noexcept;
  ~tree();

  /// Number of servers indexed.
  std::size_t servers() const noexcept { return servers_.size(); }
  /// The settings the tree was made with.
  const tree_config& config() const noexcept { return config_; }
  /// The hasher that turns token ids into the block keys this tree takes.
  const block_hasher& hasher() const noexcept { return hasher_; }

  /// For every server s < servers(), depth[s] = how many leading blocks of `keys` s holds.
  /// `depth` must have at least servers() entries. Returns the largest depth.
  std::uint32_t match(std::span<const block_key> keys, std::span<std::uint32_t> depth) const;

  /// The same depths, written only where they are not zero: for every server s that holds
  /// at least the first block of `keys`, depth[s] = its depth and s is appended to
  /// `holders` (cleared first; each such server once, in no set order). Other entries of
  /// `depth` are not touched, so a caller that zeroes the previous holders' entries keeps a
  /// full per-server array at a cost independent of servers(): O(blocks walked + holdings
  /// of the segments walked). `depth` must have at least servers() entries. Returns the
  /// largest depth.
  std::uint32_t match_holders(std::span<const block_key> keys, std::span<std::uint32_t> depth,
                              std::vector<server>& holders) const;

  /// How many leading blocks of `keys` server `s` holds.
  std::uint32_t match(server s, std::span<const block_key> keys) const;

  /// Records that server `s` now holds (and has just used) every block of `keys`; evicts
  /// under lru_blocks, forgets its oldest prompt under recent_prompts. A prompt longer
  /// than the capacity keeps only its first `capacity` blocks. No-op for a removed server.
  void insert(server s, std::span<const block_key> keys);

  /// Sets server `s`'s capacity in blocks (e.g. its KV cache's num_gpu_blocks), evicting now
  /// if it holds more. Only lru_blocks uses it.
  void set_capacity(server s, std::size_t blocks);
  /// Server `s`'s capacity in blocks (as set by set_capacity()).
  std::size_t capacity(server s) const noexcept;

  /// Forgets everything server `s` holds (its cache was reset). O(its holdings).
  void clear(server s);
  /// Server `s` left: forget its blocks, free its memory and ignore inserts until restore(s).
  void remove(server s);
  /// Server `s` is back (empty).
  void restore(server s);
  /// Whether server `s` is indexed (not removed).
  bool active(server s) const noexcept;

  /// Forgets every block of every server; capacities and removals stay.
  void clear();

  /// Blocks server `s` holds.
  std::size_t held_blocks(server s) const noexcept;
  /// Sum of held_blocks() over servers: the number of cached (server, block) pairs.
  std::size_t cached_blocks() const noexcept { return cached_; }
  /// Distinct blocks held by at least one server.
  std::size_t distinct_blocks() const noexcept { return distinct_; }
  /// Heap bytes the index uses now (vector capacities; allocator overhead not counted).
  /// O(segments): for reports, not for the hot path.
  std::size_t memory_bytes() const noexcept;

  /// Checks internal consistency (head table, lists, prefix closure, counts); for tests.
  /// O(everything).
  bool check() const;

 private:
  static constexpr std::uint32_t nil = 0xFFFF'FFFFu;

  // A server holding a segment, kept in the segment: a match reads a segment's holders in
  // one contiguous run (a linked list cost a cache miss per holder at a thousand servers).
  struct seg_holder {
    std::uint32_t server;
    std::uint32_t held;  // the server holds the segment's first `held` blocks
    std::uint32_t hold;  // its holding (the server's LRU entry)
  };
  struct segment {
    std::vector<block_key> keys;       // the run's block keys; empty when on the free list
    block_key parent_key = 0;          // key of the block before keys[0]; 0 at the root
    std::vector<seg_holder> holders;   // unordered
    std::uint32_t next_free = nil;
  };
  struct head_slot {
    block_key key;          // a segment's first key; 0 = empty slot
    std::uint64_t seg;      // the segment (64-bit so the slot has no padding)
  };
  struct head_traits {
    static bool empty(const head_slot& s) noexcept { return s.key == 0; }
    static head_slot empty_slot() noexcept { return {0, 0}; }
    static std::uint64_t key(const head_slot& s) noexcept { return s.key; }
  };
  // One (server, segment) pair, in the server's LRU list; its block count is the segment's
  // seg_holder at `pos`.
  struct holding {
    std::uint32_t seg;
    std::uint32_t pos;        // index in segs_[seg].holders
    std::uint32_t server;
    std::uint32_t prev;       // server's LRU list, head = most recent
    std::uint32_t next;
    std::uint32_t next_free;  // free list when unused
  };
  struct server_state {
    std::uint32_t head = nil;
    std::uint32_t tail = nil;
    std::size_t count = 0;
    std::size_t capacity = 0;
    bool active = true;
    std::vector<std::vector<block_key>> recent;  // ring of remembered prompts (recent_prompts)
    std::size_t recent_next = 0;
    std::size_t recent_size = 0;
  };

  // Walks `keys` down the segments: fills path_ with the segments passed and returns how
  // many leading keys exist in the tree; last_ = blocks covered of the last segment.
  std::size_t walk(std::span<const block_key> keys) const;
  // match() and match_holders(): writes the depth of each server holding the first block,
  // listing those servers in `holders` when given.
  std::uint32_t match_walked(std::span<const block_key> keys, std::span<std::uint32_t> depth,
                             std::vector<server>* holders) const;
  std::uint32_t find_holding(std::uint32_t seg, server s) const noexcept;
  std::uint32_t& held(std::uint32_t h) noexcept { return segs_[holds_[h].seg].holders[holds_[h].pos].held; }
  std::uint32_t held(std::uint32_t h) const noexcept { return segs_[holds_[h].seg].holders[holds_[h].pos].held; }
  std::uint32_t new_segment(std::span<const block_key> keys, block_key parent_key);
  void free_segment(std::uint32_t seg) noexcept;
  void split(std::uint32_t seg, std::uint32_t at);
  void trim(std::uint32_t seg) noexcept;
  std::uint32_t new_holding(server s, std::uint32_t seg, std::uint32_t held);
  void drop_holding(std::uint32_t h) noexcept;
  void unlink(server_state& st, std::uint32_t h) noexcept;
  void link_after(server_state& st, std::uint32_t anchor, std::uint32_t h) noexcept;
  void evict(server s, std::size_t blocks) noexcept;
  void forget_beyond_ring(server s);
  void touch_mutation() noexcept { ++version_; }

  tree_config config_;
  block_hasher hasher_;
  std::vector<server_state> servers_;
  std::vector<segment> segs_;
  std::uint32_t free_seg_ = nil;
  std::vector<holding> holds_;
  std::uint32_t free_hold_ = nil;
  detail::probe_table<head_slot, head_traits> heads_;
  std::size_t cached_ = 0;
  std::size_t distinct_ = 0;
  std::size_t total_capacity_ = 0;
  std::uint64_t version_ = 0;
  // Scratch, reused so that deciding allocates nothing.
  mutable std::vector<std::uint32_t> path_;
  mutable std::size_t last_ = 0;
  mutable block_key walked_last_ = 0;  // last key of the prompt the cached walk was for
  mutable std::size_t walked_len_ = 0;
  mutable std::size_t walked_covered_ = 0;
  mutable std::uint64_t walked_version_ = ~std::uint64_t{0};
  mutable std::vector<std::uint32_t> mark_;
  mutable std::uint32_t epoch_ = 0;
  std::vector<std::uint32_t> hk_;
  std::vector<std::uint32_t> want_;
  std::vector<std::uint32_t> want_mark_;
};

}  // namespace planetserve::hrtree
