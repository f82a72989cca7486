// SPDX-License-Identifier: MIT
// reuse_ceiling: the share of input tokens a prefix cache could hit, shared or per node (sans-io).
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <cstddef>
#include <cstdint>
#include <list>
#include <span>
#include <vector>

namespace planetserve::workload {

/// How the ceiling is counted.
struct reuse_config {
  std::size_t block_tokens = 16;  ///< tokens per block of the keys given to add()
  std::size_t nodes = 4;          ///< fleet size for the per-node figures
  std::size_t cache_blocks = 0;   ///< per-node cache capacity in blocks (of block_tokens); 0: no per-node figures
};

/// Input tokens and the tokens each cache model would have hit.
struct reuse_result {
  std::size_t requests = 0;             ///< requests added
  std::size_t input_tokens = 0;         ///< all input tokens
  std::size_t shared_hit_tokens = 0;    ///< one infinite cache shared by all nodes
  std::size_t rr_hit_tokens = 0;        ///< per-node LRU caches, request i on node i mod nodes
  std::size_t affinity_hit_tokens = 0;  ///< per-node LRU caches, each affinity key always on one node

  /// shared_hit_tokens / input_tokens: the ceiling on any prefix cache's token hit ratio.
  double shared_ratio() const noexcept { return ratio(shared_hit_tokens); }
  /// rr_hit_tokens / input_tokens.
  double rr_ratio() const noexcept { return ratio(rr_hit_tokens); }
  /// affinity_hit_tokens / input_tokens.
  double affinity_ratio() const noexcept { return ratio(affinity_hit_tokens); }

 private:
  double ratio(std::size_t hits) const noexcept {
    return input_tokens ? static_cast<double>(hits) / static_cast<double>(input_tokens) : 0.0;
  }
};

namespace detail {

/// A node's prefix cache of `capacity` blocks with LRU eviction.
class lru_blocks {
 public:
  explicit lru_blocks(std::size_t capacity) : capacity_(capacity) {}
  /// Leading blocks of `keys` held.
  std::size_t leading_hits(std::span<const std::uint64_t> keys) const;
  /// Makes `keys` the most recently used, the first block last: like vLLM, which frees a
  /// request's blocks tail first, a prompt's tail is evicted before its head.
  void touch(std::span<const std::uint64_t> keys);

 private:
  std::size_t capacity_;
  std::list<std::uint64_t> order_;  // front: most recent
  boost::unordered_flat_map<std::uint64_t, std::list<std::uint64_t>::iterator> where_;
};

}  // namespace detail

/// Feeds requests in arrival order and counts, by blocks in order, the input tokens each
/// cache model hits: a request hits its leading blocks found in the cache (a block key stands
/// for the whole prefix up to it, like vLLM's chained block hashes and a trace's hash ids).
class reuse_ceiling {
 public:
  /// Throws std::invalid_argument for block_tokens or nodes of 0.
  explicit reuse_ceiling(const reuse_config& config);

  /// One request: its blocks' keys, its input length (the last block may be partial: hits
  /// are capped at it) and the key that perfect affinity keeps on one node (a session id,
  /// or the first block for requests without one).
  void add(std::span<const std::uint64_t> blocks, std::size_t input_tokens, std::uint64_t affinity);

  /// The counts so far.
  const reuse_result& result() const noexcept { return result_; }
  /// The settings.
  const reuse_config& config() const noexcept { return config_; }

 private:
  std::size_t tokens_of(std::size_t blocks, std::size_t input_tokens) const noexcept;

  reuse_config config_;
  reuse_result result_;
  boost::unordered_flat_set<std::uint64_t> seen_;
  std::vector<detail::lru_blocks> rr_, affinity_;
};

}  // namespace planetserve::workload
