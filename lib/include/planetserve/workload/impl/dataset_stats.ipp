// SPDX-License-Identifier: MIT
// Compiled body of dataset_stats_builder.
#pragma once

#include <planetserve/workload/dataset_stats.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace planetserve::workload {
namespace detail {

/// Chains a token onto the hash of the prefix before it (a splitmix64-style finaliser).
inline std::uint64_t chain_hash(std::uint64_t parent, tokenize::token_id t) noexcept {
  std::uint64_t z = parent ^ (static_cast<std::uint64_t>(t) + 0x9e3779b97f4a7c15ULL + (parent << 6) + (parent >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline std::size_t nearest_rank(const std::vector<std::size_t>& sorted, double q) {
  const auto n = sorted.size();
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

}  // namespace detail

dataset_stats_builder::dataset_stats_builder(const tokenize::tokenizer& tok, std::size_t block_size)
    : tok_(tok), block_size_(block_size) {
  if (block_size_ == 0) throw std::invalid_argument("dataset_stats_builder: block_size must be > 0");
}

std::size_t dataset_stats_builder::add(std::string_view text) {
  ids_.clear();
  tok_.encode(text, ids_);
  lengths_.push_back(ids_.size());
  // Prefixes seen are closed under shortening, so the match ends at the first miss.
  std::uint64_t h = 0;
  std::size_t i = 0;
  for (; i < ids_.size(); ++i) {
    h = detail::chain_hash(h, ids_[i]);
    if (!seen_.contains(h)) break;
  }
  const std::size_t match = i;
  for (; i < ids_.size(); ++i) {
    if (i > match) h = detail::chain_hash(h, ids_[i]);
    seen_.insert(h);
  }
  reused_ += match;
  reused_blocks_ += match / block_size_ * block_size_;
  return match;
}

dataset_stats dataset_stats_builder::finish() const {
  dataset_stats s;
  s.block_size = block_size_;
  s.prompts = lengths_.size();
  if (lengths_.empty()) return s;
  std::vector<std::size_t> sorted = lengths_;
  std::sort(sorted.begin(), sorted.end());
  for (auto n : sorted) s.total_tokens += n;
  s.min_tokens = sorted.front();
  s.max_tokens = sorted.back();
  s.p50_tokens = detail::nearest_rank(sorted, 0.5);
  s.p90_tokens = detail::nearest_rank(sorted, 0.9);
  s.mean_tokens = static_cast<double>(s.total_tokens) / static_cast<double>(sorted.size());
  s.reused_tokens = reused_;
  s.reused_block_tokens = reused_blocks_;
  return s;
}

dataset_stats compute_stats(const dataset& d, const tokenize::tokenizer& tok, std::size_t block_size) {
  dataset_stats_builder b(tok, block_size);
  for (const auto& p : d.prompts) b.add(p.text);
  return b.finish();
}

}  // namespace planetserve::workload
