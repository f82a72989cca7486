// SPDX-License-Identifier: MIT
// Compiled body of block_hasher.
#pragma once

#include <planetserve/hrtree/block_hasher.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdexcept>

namespace planetserve::hrtree {

block_hasher::block_hasher(std::size_t chunk_tokens, std::uint64_t seed)
    : chunk_tokens_(chunk_tokens), seed_(seed) {
  if (chunk_tokens_ == 0) throw std::invalid_argument("hrtree::block_hasher: chunk_tokens must be > 0");
}

block_key block_hasher::next_key(block_key parent, std::span<const tokenize::token_id> block) const noexcept {
  // Seeding with the parent's key chains the hash without copying parent and block into
  // one buffer; XXH3 mixes the seed into its secret, so different parents give unrelated keys.
  const block_key k = XXH3_64bits_withSeed(block.data(), block.size_bytes(), parent);
  return k == 0 ? 0x9E3779B97F4A7C15ULL : k;  // 0 marks an empty slot in the tree
}

void block_hasher::keys(std::span<const tokenize::token_id> tokens,
                        std::vector<block_key>& out) const {
  const std::size_t n = tokens.size() / chunk_tokens_;
  out.resize(n);
  block_key parent = seed_;
  for (std::size_t i = 0; i < n; ++i) {
    parent = next_key(parent, tokens.subspan(i * chunk_tokens_, chunk_tokens_));
    out[i] = parent;
  }
}

}  // namespace planetserve::hrtree
