// SPDX-License-Identifier: MIT
// Compiled body of sim::kv_cache.
#pragma once

#include <planetserve/sim/kv_cache.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cassert>
#include <stdexcept>

namespace planetserve::sim {

block_hash hash_block(block_hash parent, std::span<const tokenize::token_id> tokens) noexcept {
  return XXH3_64bits_withSeed(tokens.data(), tokens.size_bytes(), parent);
}

void extend_block_hashes(std::span<const tokenize::token_id> tokens, std::size_t block_size,
                         std::vector<block_hash>& out) {
  const std::size_t full = tokens.size() / block_size;
  block_hash parent = out.empty() ? root_block_hash : out.back();
  for (std::size_t i = out.size(); i < full; ++i) {
    parent = hash_block(parent, tokens.subspan(i * block_size, block_size));
    out.push_back(parent);
  }
}

kv_cache::kv_cache(std::size_t num_blocks, std::size_t block_size, bool enable_prefix_caching)
    : num_blocks_(num_blocks), block_size_(block_size), caching_(enable_prefix_caching) {
  if (num_blocks < 2) throw std::invalid_argument("kv_cache: need at least 2 blocks (one is the null block)");
  if (block_size == 0) throw std::invalid_argument("kv_cache: block_size must be > 0");
  if (num_blocks > none) throw std::invalid_argument("kv_cache: too many blocks for a 32-bit block id");
  // Block 0 is the null block: always "used", never in the free queue.
  //
  // The pool is built lazily. blocks_ holds only the blocks handed out at least once; the
  // others, [blocks_.size(), num_blocks_), are the free queue's front in id order (as vLLM's
  // initial queue): nothing is ever queued before them, since allocate() takes from the front
  // and free() appends at the back. So an engine costs nothing per block until it uses them
  // (a thousand-node virtual fleet no longer builds 28 million blocks up front), and the
  // linked list head_..tail_ is the rest of the queue. free_count_ counts both parts.
  blocks_.emplace_back().ref = 1;
  free_count_ = num_blocks - 1;
}

double kv_cache::usage() const noexcept {
  // Current vLLM (BlockPool.get_usage) leaves the null block out, so an idle cache reads 0.
  return 1.0 - static_cast<double>(free_count_) / static_cast<double>(num_blocks_ - 1);
}

void kv_cache::unlink(block_id b) noexcept {
  auto& blk = blocks_[b];
  assert(blk.in_free);
  if (blk.prev != none) blocks_[blk.prev].next = blk.next; else head_ = blk.next;
  if (blk.next != none) blocks_[blk.next].prev = blk.prev; else tail_ = blk.prev;
  blk.prev = blk.next = none;
  blk.in_free = false;
  --free_count_;
}

void kv_cache::push_back(block_id b) noexcept {
  auto& blk = blocks_[b];
  blk.prev = tail_;
  blk.next = none;
  if (tail_ != none) blocks_[tail_].next = b; else head_ = b;
  tail_ = b;
  blk.in_free = true;
  ++free_count_;
}

std::size_t kv_cache::longest_cache_hit(std::span<const block_hash> hashes, std::size_t max_blocks) const {
  if (!caching_) return 0;
  std::size_t n = 0;
  while (n < hashes.size() && n < max_blocks && by_hash_.count(hashes[n]) != 0) ++n;
  return n;
}

std::size_t kv_cache::num_free_among(std::span<const block_hash> hashes, std::size_t n) const {
  std::size_t free = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (blocks_[by_hash_.at(hashes[i])].in_free) ++free;
  return free;
}

void kv_cache::touch(std::span<const block_hash> hashes, std::size_t n, std::vector<block_id>& out) {
  for (std::size_t i = 0; i < n; ++i) {
    const block_id b = by_hash_.at(hashes[i]);
    if (blocks_[b].in_free) unlink(b);
    ++blocks_[b].ref;
    out.push_back(b);
  }
}

void kv_cache::allocate(std::size_t n, std::vector<block_id>& out) {
  if (n > free_count_) throw std::logic_error("kv_cache::allocate: not enough free blocks");
  for (std::size_t i = 0; i < n; ++i) {
    if (blocks_.size() < num_blocks_) {  // the queue's front: a block never used, nothing to evict
      out.push_back(static_cast<block_id>(blocks_.size()));
      blocks_.emplace_back().ref = 1;
      --free_count_;
      continue;
    }
    const block_id b = head_;
    unlink(b);
    auto& blk = blocks_[b];
    if (blk.hashed) {  // evict: later requests can no longer hit this block
      by_hash_.erase(blk.hash);
      blk.hashed = false;
      if (events_on_) {
        // One BlockRemoved per allocation, as vLLM batches a step's evictions.
        auto* last = events_.empty() ? nullptr : std::get_if<kvevents::block_removed>(&events_.back());
        if (last) last->block_hashes.push_back(blk.hash);
        else events_.emplace_back(kvevents::block_removed{{blk.hash}, std::string("GPU")});
      }
    }
    blk.ref = 1;
    out.push_back(b);
  }
}

bool kv_cache::cache_block(block_id b, block_hash hash) {
  if (!caching_) return false;
  auto& blk = blocks_[b];
  if (blk.hashed) return false;
  // Another block already holds this content: keep that one as the cached copy.
  if (!by_hash_.emplace(hash, b).second) return false;
  blk.hashed = true;
  blk.hash = hash;
  return true;
}

void kv_cache::record(kvevents::event e) {
  if (events_on_) events_.push_back(std::move(e));
}

void kv_cache::free(std::span<const block_id> blocks) {
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    auto& blk = blocks_[*it];
    assert(blk.ref > 0);
    if (--blk.ref == 0) push_back(*it);
  }
}

bool kv_cache::reset_prefix_cache() {
  if (free_count_ != num_blocks_ - 1) return false;
  by_hash_.clear();
  for (auto& blk : blocks_) blk.hashed = false;
  if (events_on_) events_.emplace_back(kvevents::all_blocks_cleared{});
  return true;
}

std::vector<block_id> kv_cache::free_queue() const {
  std::vector<block_id> out;
  out.reserve(free_count_);
  for (std::size_t b = blocks_.size(); b < num_blocks_; ++b) out.push_back(static_cast<block_id>(b));
  for (block_id b = head_; b != none; b = blocks_[b].next) out.push_back(b);
  return out;
}

}  // namespace planetserve::sim
