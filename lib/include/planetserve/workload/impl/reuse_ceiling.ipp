// SPDX-License-Identifier: MIT
// Compiled body of reuse_ceiling and its per-node LRU block cache.
#pragma once

#include <planetserve/workload/reuse_ceiling.hpp>
#include <planetserve/workload/rng.hpp>

#include <algorithm>
#include <stdexcept>

namespace planetserve::workload {
namespace detail {

std::size_t lru_blocks::leading_hits(std::span<const std::uint64_t> keys) const {
  std::size_t n = 0;
  while (n < keys.size() && where_.contains(keys[n])) ++n;
  return n;
}

void lru_blocks::touch(std::span<const std::uint64_t> keys) {
  if (capacity_ == 0) return;
  for (std::size_t i = keys.size(); i-- > 0;) {
    const std::uint64_t k = keys[i];
    if (auto it = where_.find(k); it != where_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      continue;
    }
    if (order_.size() == capacity_) {
      where_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(k);
    where_.emplace(k, order_.begin());
  }
}

}  // namespace detail

reuse_ceiling::reuse_ceiling(const reuse_config& config) : config_(config) {
  if (config_.block_tokens == 0) throw std::invalid_argument("reuse_ceiling: block_tokens must be > 0");
  if (config_.nodes == 0) throw std::invalid_argument("reuse_ceiling: nodes must be > 0");
  if (config_.cache_blocks) {
    rr_.assign(config_.nodes, detail::lru_blocks(config_.cache_blocks));
    affinity_.assign(config_.nodes, detail::lru_blocks(config_.cache_blocks));
  }
}

std::size_t reuse_ceiling::tokens_of(std::size_t blocks, std::size_t input_tokens) const noexcept {
  return std::min(blocks * config_.block_tokens, input_tokens);
}

void reuse_ceiling::add(std::span<const std::uint64_t> blocks, std::size_t input_tokens, std::uint64_t affinity) {
  const std::size_t i = result_.requests++;
  result_.input_tokens += input_tokens;
  std::size_t hit = 0;
  while (hit < blocks.size() && seen_.contains(blocks[hit])) ++hit;
  result_.shared_hit_tokens += tokens_of(hit, input_tokens);
  for (std::size_t k = hit; k < blocks.size(); ++k) seen_.insert(blocks[k]);
  if (rr_.empty()) return;
  auto& rr = rr_[i % config_.nodes];
  result_.rr_hit_tokens += tokens_of(rr.leading_hits(blocks), input_tokens);
  rr.touch(blocks);
  std::uint64_t x = affinity;
  auto& aff = affinity_[rng::splitmix64(x) % config_.nodes];
  result_.affinity_hit_tokens += tokens_of(aff.leading_hits(blocks), input_tokens);
  aff.touch(blocks);
}

}  // namespace planetserve::workload
