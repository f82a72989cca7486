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

void block_hasher::keys(std::span<const tokenize::token_id> tokens,
                        std::vector<block_key>& out) const {
  const std::size_t n = tokens.size() / chunk_tokens_;
  out.resize(n);
  const std::size_t bytes = chunk_tokens_ * sizeof(tokenize::token_id);
  const tokenize::token_id* p = tokens.data();
  std::uint64_t parent = seed_;
  for (std::size_t i = 0; i < n; ++i, p += chunk_tokens_) {
    // Seeding with the parent's key chains the hash without copying parent and block into
    // one buffer; XXH3 mixes the seed into its secret, so different parents give unrelated keys.
    std::uint64_t k = XXH3_64bits_withSeed(p, bytes, parent);
    if (k == 0) k = 0x9E3779B97F4A7C15ULL;  // 0 marks an empty slot in the tree
    out[i] = k;
    parent = k;
  }
}

}  // namespace planetserve::hrtree
