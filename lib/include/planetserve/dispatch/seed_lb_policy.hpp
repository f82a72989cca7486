// SPDX-License-Identifier: MIT
// dispatch::seed_lb_policy: `lb --lb-compat seed`, the seed's find_best_matched_model_node, decision for decision.
#pragma once

#include <planetserve/dispatch/policy.hpp>
#include <planetserve/dispatch/detail/rng.hpp>

#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

namespace planetserve::dispatch {

/// The seed's `lb`, reproduced exactly (its choices on a recorded sequence are a test).
///
/// Per node, an index of the node's last `tree.recent_prompts` prompts (the seed's
/// max_cached_request = 10) cut into chunks of `tree.chunk_tokens` tokens (the seed's 10; the
/// last chunk may be short), each chunk keyed by the seed's hash (h = (31 h + id) mod
/// 1e9+7) under its parent chunk, seeded with lb.seed_baseline_tokens (the seed's "I am a
/// model node.") and emptied of it at the first prompt. Match = leading chunks found /
/// chunks in the prompt. Busy factor BF = latency EMA (ms) x ceil(queued tokens /
/// batch_size_tokens). Hit nodes are those with match > 0; the cut is the rank-based 80th
/// percentile of the hit nodes' BFs (sorted[ceil(0.8 n) - 1]); among hit nodes at or under
/// it the highest match wins, ties by lower BF, then fewer prompts so far, then lower index.
/// No hit: the lowest BF, ties by fewer prompts, then lower index. The chosen node's queue
/// grows by chunks x chunk_tokens, then every queue drains service_tokens_per_step. On a
/// successful completion EMA = (1 - w) EMA + w e2e (ms). Initial EMA per node: the
/// configured lb.initial_latencies, else uniform in [a/f, a f] with a = lb.initial_latency
/// and f = 78/71 (the seed's p99/average; its draw is unseeded, ours is seeded).
///
/// Unavailable nodes are skipped, which the seed never needed; with every node available
/// the choices are the seed's. The decision's match_blocks are matched chunks (the short
/// last chunk included), prompt_blocks the chunk count, load_score the BFs in ms.
class seed_lb_policy final : public policy {
 public:
  /// A policy for `config`; throws std::invalid_argument (naming the field) if check(config, diag) fails.
  explicit seed_lb_policy(const policy_config& config);
  std::string_view name() const noexcept override { return "lb"; }

  /// Current latency estimate of `node`, milliseconds.
  double latency_ms(node_index node) const { return ema_ms_.at(node); }
  /// Tokens queued at `node` in the seed's queue model.
  std::uint64_t queued_tokens(node_index node) const { return queued_.at(node); }
  /// Leading chunks of `tokens` that `node`'s index holds.
  std::uint32_t matched_chunks(node_index node, std::span<const tokenize::token_id> tokens) const;

 protected:
  decision do_choose(const request_view& req, const fleet_view& fleet) override;
  void do_dispatched(node_index node, const request_view& req) override;
  void do_finished(node_index node, const outcome& result) override;
  void do_reset() override;
  /// Its chunk tries are its prefix model (the shared block index is off).
  bool models_prefix_cache() const noexcept override { return true; }

 private:
  /// One node's chunk trie, the seed's HashRadix: counts of prompts passing through and
  /// ending at each trie node; a trie node no prompt passes through any more is removed.
  struct chunk_trie {
    std::unordered_map<std::uint64_t, std::uint32_t> edges;  // (parent << 32 | chunk hash) -> child
    std::vector<std::uint32_t> pass{0}, ends{0};             // per trie node; 0 is the root
    std::vector<std::uint32_t> free;                         // reusable trie node slots
    std::deque<std::vector<tokenize::token_id>> window;      // the prompts it holds, oldest first
    bool baseline = false;                                   // the baseline is still indexed
  };

  void hash_chunks(std::span<const tokenize::token_id> tokens, std::vector<std::uint64_t>& out) const;
  std::uint32_t match(const chunk_trie& t, std::span<const std::uint64_t> hashes) const;
  void insert(chunk_trie& t, std::span<const std::uint64_t> hashes);
  void erase(chunk_trie& t, std::span<const std::uint64_t> hashes);
  double busy_factor(node_index node) const;

  detail::rng rng_;
  std::vector<chunk_trie> tries_;
  std::vector<double> ema_ms_;
  std::vector<std::uint64_t> queued_;
  std::vector<std::uint64_t> hashes_;   // scratch: the current prompt's chunk hashes
  std::vector<std::uint64_t> scratch_;  // scratch: an evicted prompt's chunk hashes
  std::vector<std::uint32_t> matched_;  // per node: matched chunks of the current prompt
  std::vector<double> hit_bf_;          // scratch: BFs of the hit nodes
};

}  // namespace planetserve::dispatch
