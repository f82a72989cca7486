// SPDX-License-Identifier: MIT
// Compiled body of kvevents::block_index.
#pragma once

#include <planetserve/kvevents/block_index.hpp>

namespace planetserve::kvevents {

apply_status block_index::apply(const event& e) {
  if (const auto* s = std::get_if<block_stored>(&e)) return store(*s);
  if (const auto* r = std::get_if<block_removed>(&e)) return remove(*r);
  clear();
  return apply_status::applied;
}

apply_status block_index::store(const block_stored& s) {
  const std::size_t bs = hasher_.chunk_tokens();
  if (s.block_size != bs || s.token_ids.size() != s.block_hashes.size() * bs) return apply_status::bad_block_size;
  hrtree::block_key parent = hasher_.seed();
  if (s.parent_block_hash) {
    const auto it = by_hash_.find(*s.parent_block_hash);
    if (it == by_hash_.end()) return apply_status::unknown_parent;
    parent = it->second.key;
  }
  const std::span<const tokenize::token_id> tokens(s.token_ids);
  for (std::size_t i = 0; i < s.block_hashes.size(); ++i) {
    parent = hasher_.next_key(parent, tokens.subspan(i * bs, bs));
    auto& named = by_hash_[s.block_hashes[i]];
    if (named.copies > 0 && named.key != parent) {
      // The server reused a name for other content: the old block is gone.
      if (auto h = held_.find(named.key); h != held_.end() && (h->second -= named.copies) == 0) held_.erase(h);
      named.copies = 0;
    }
    named.key = parent;
    ++named.copies;
    ++held_[parent];
  }
  return apply_status::applied;
}

apply_status block_index::remove(const block_removed& r) {
  apply_status status = apply_status::applied;
  for (const auto h : r.block_hashes) {
    const auto it = by_hash_.find(h);
    if (it == by_hash_.end()) {
      status = apply_status::unknown_block;
      continue;
    }
    if (auto k = held_.find(it->second.key); k != held_.end() && --k->second == 0) held_.erase(k);
    if (--it->second.copies == 0) by_hash_.erase(it);
  }
  return status;
}

std::size_t block_index::match(std::span<const hrtree::block_key> keys) const {
  std::size_t n = 0;
  while (n < keys.size() && held_.count(keys[n]) != 0) ++n;
  return n;
}

void block_index::clear() noexcept {
  by_hash_.clear();
  held_.clear();
}

}  // namespace planetserve::kvevents
