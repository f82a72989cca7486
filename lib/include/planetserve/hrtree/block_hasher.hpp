// SPDX-License-Identifier: MIT
// block_hasher: cuts token ids into fixed-size blocks and gives each a 64-bit key chained on its parent's.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace planetserve::hrtree {

/// A block's key: a hash of the block's tokens seeded with its parent's key, so equal keys
/// mean equal prefixes (up to 64-bit collisions). Never 0: the tree uses 0 for "no block".
using block_key = std::uint64_t;

/// Turns a prompt's token ids into the keys of its full blocks. Only full blocks get keys,
/// as vLLM caches only full blocks; a trailing partial block is never shared.
class block_hasher {
 public:
  /// `chunk_tokens` tokens per block (vLLM's KV block size is 16); `seed` separates models.
  /// Throws std::invalid_argument for a chunk_tokens of 0.
  explicit block_hasher(std::size_t chunk_tokens = 16, std::uint64_t seed = 0);

  /// Replaces `out` with the keys of `tokens`' full blocks (xxh3-64, chained through the seed).
  void keys(std::span<const tokenize::token_id> tokens, std::vector<block_key>& out) const;

  /// The keys of `tokens`' full blocks.
  std::vector<block_key> keys(std::span<const tokenize::token_id> tokens) const {
    std::vector<block_key> out;
    keys(tokens, out);
    return out;
  }

  /// The key of the block holding `block` (chunk_tokens() ids) after the block keyed
  /// `parent` (the first block's parent is seed()): keys() chains exactly this way.
  block_key next_key(block_key parent, std::span<const tokenize::token_id> block) const noexcept;

  /// Number of full blocks in `tokens` tokens.
  std::size_t blocks(std::size_t tokens) const noexcept { return tokens / chunk_tokens_; }

  /// Tokens per block.
  std::size_t chunk_tokens() const noexcept { return chunk_tokens_; }
  /// The hash seed.
  std::uint64_t seed() const noexcept { return seed_; }

 private:
  std::size_t chunk_tokens_;
  std::uint64_t seed_;
};

}  // namespace planetserve::hrtree
