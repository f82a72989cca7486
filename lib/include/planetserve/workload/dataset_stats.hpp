// SPDX-License-Identifier: MIT
// dataset_stats: prompt lengths and the shared-prefix ceiling on any cache's hit ratio.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/dataset.hpp>

#include <boost/unordered/unordered_flat_set.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace planetserve::workload {

/// What a workload looks like to a prefix cache.
struct dataset_stats {
  std::size_t prompts = 0;       ///< prompts looked at
  std::size_t total_tokens = 0;  ///< sum of prompt lengths
  std::size_t min_tokens = 0;    ///< shortest prompt
  std::size_t p50_tokens = 0;    ///< median prompt length (nearest rank)
  std::size_t p90_tokens = 0;    ///< 90th percentile prompt length (nearest rank)
  std::size_t max_tokens = 0;    ///< longest prompt
  double mean_tokens = 0.0;      ///< mean prompt length
  /// Tokens of each prompt's longest common prefix with any earlier prompt, summed.
  std::size_t reused_tokens = 0;
  /// The same rounded down to whole blocks (what a block-based cache like vLLM's can reuse).
  std::size_t reused_block_tokens = 0;
  /// The block size used for reused_block_tokens.
  std::size_t block_size = 16;

  /// reused_tokens / total_tokens: the ceiling on any prefix cache's token hit ratio.
  double reuse_ratio() const noexcept {
    return total_tokens ? static_cast<double>(reused_tokens) / static_cast<double>(total_tokens) : 0.0;
  }
  /// reused_block_tokens / total_tokens.
  double block_reuse_ratio() const noexcept {
    return total_tokens ? static_cast<double>(reused_block_tokens) / static_cast<double>(total_tokens) : 0.0;
  }
};

/// Feeds prompts one at a time, in arrival order, and summarises them.
/// Memory grows with the number of distinct prefix tokens (one 64-bit hash each), not with
/// the total: a prefix already seen is walked, never stored again.
class dataset_stats_builder {
 public:
  /// `tok` must outlive the builder; throws std::invalid_argument for a block_size of 0.
  explicit dataset_stats_builder(const tokenize::tokenizer& tok, std::size_t block_size = 16);

  /// Adds one prompt; returns the length in tokens of its longest prefix seen before.
  std::size_t add(std::string_view text);

  /// The summary of everything added so far.
  dataset_stats finish() const;

 private:
  const tokenize::tokenizer& tok_;
  std::size_t block_size_;
  std::vector<std::size_t> lengths_;
  std::size_t reused_ = 0;
  std::size_t reused_blocks_ = 0;
  std::vector<tokenize::token_id> ids_;
  boost::unordered_flat_set<std::uint64_t> seen_;  // chained hashes of every prefix seen
};

/// The stats of a whole dataset (prompt texts in file order).
dataset_stats compute_stats(const dataset& d, const tokenize::tokenizer& tok, std::size_t block_size = 16);

}  // namespace planetserve::workload
