// SPDX-License-Identifier: MIT
// dispatch::policy: the interface every routing policy implements, built-in or the user's own.
#pragma once

#include <planetserve/dispatch/decision.hpp>
#include <planetserve/dispatch/fleet_view.hpp>
#include <planetserve/dispatch/live_load.hpp>
#include <planetserve/dispatch/node_stats.hpp>
#include <planetserve/dispatch/outcome.hpp>
#include <planetserve/dispatch/policy_config.hpp>
#include <planetserve/dispatch/request_view.hpp>
#include <planetserve/hrtree/tree.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace planetserve::dispatch {

/// A routing policy: sans-io, single-threaded, deterministic given its seed.
///
/// The caller asks choose() for a node, then reports what happened through the hooks:
/// on_dispatched() when it sends, on_finished() when the request ends, on_load() after each
/// /metrics scrape, set_available() when a node goes or comes back. The base class keeps
/// the per-node statistics and, when the policy uses prefixes, the HR-tree: choose() matches
/// the prompt before calling do_choose(), on_dispatched() records that the node now holds it.
///
/// To write a policy, derive and implement name() and do_choose(); override the other do_*
/// hooks for state of your own. do_choose() is called only when some node is available and
/// must return an available node.
class policy {
 public:
  /// `track_prefixes`: keep the HR-tree (a prefix policy, or config.explain_matches). Throws
  /// std::invalid_argument (naming the field) if check(config, diag) fails.
  policy(const policy_config& config, bool track_prefixes);
  virtual ~policy();
  policy(const policy&) = delete;
  policy& operator=(const policy&) = delete;

  /// The policy's registry name ("lb").
  virtual std::string_view name() const noexcept = 0;

  /// Picks a node for `req`, or no_node (rule none_available) if no node is available.
  decision choose(const request_view& req, const fleet_view& fleet = {});

  /// `req` was sent to `node`. Reuses the block keys of the last choose() when `req` is the
  /// same view (same tokens pointer, size and id) with unchanged tokens; hashes otherwise.
  void on_dispatched(node_index node, const request_view& req);
  /// A request on `node` ended.
  void on_finished(node_index node, const outcome& result);
  /// A fresh /metrics scrape of `node`.
  void on_load(node_index node, const live_load& load);
  /// Whether `node` may be chosen.
  void set_available(node_index node, bool available);
  /// `node`'s prefix cache capacity in blocks became known (vLLM's num_gpu_blocks).
  void set_cache_capacity(node_index node, std::size_t blocks);
  /// `node`'s prefix cache was emptied (server restarted).
  void forget_cache(node_index node);
  /// Back to the starting state (new epoch, next policy): statistics, learned state, the
  /// prefix index and random sequence. Availability and cache capacities stay.
  void reset();

  /// Fleet size (policy_config::nodes).
  std::size_t nodes() const noexcept { return stats_.size(); }
  /// Node `node`'s statistics; throws std::out_of_range for a node outside the fleet.
  const node_stats& stats(node_index node) const { return stats_.at(node); }
  /// Every node's statistics, by node index.
  std::span<const node_stats> stats() const noexcept { return stats_; }
  /// The settings the policy was made with.
  const policy_config& config() const noexcept { return config_; }
  /// The prefix index, or null if this policy does not track prefixes.
  const hrtree::tree* prefixes() const noexcept { return tree_ ? &*tree_ : nullptr; }
  /// What the policy's model expected `d`'s node to hold of a `prompt_tokens`-token prompt:
  /// chosen_match() blocks x tree.chunk_tokens, at most `prompt_tokens`. Nothing for a
  /// policy that routes without a prefix model (its matches, if explained, guided nothing)
  /// or a decision without a node.
  std::optional<std::uint32_t> predicted_cached_tokens(const decision& d, std::size_t prompt_tokens) const noexcept;

 protected:
  /// The policy's choice among available nodes (at least one is); return make_decision(node, rule).
  virtual decision do_choose(const request_view& req, const fleet_view& fleet) = 0;
  /// After on_dispatched() updated the statistics and the prefix index: the request went to the node.
  virtual void do_dispatched(node_index, const request_view&) {}
  /// After on_finished() updated the statistics: a request on the node ended.
  virtual void do_finished(node_index, const outcome&) {}
  /// After on_load() stored the scrape: the node's fresh load.
  virtual void do_load(node_index, const live_load&) {}
  /// After set_available() changed the node's availability (called only on a change).
  virtual void do_available(node_index, bool) {}
  /// After reset() cleared the shared state: clear the policy's own.
  virtual void do_reset() {}
  /// Whether choices rest on a model of the nodes' prefix caches: by default, whether the
  /// policy was made with `track_prefixes`. A policy with an index of its own says true.
  virtual bool models_prefix_cache() const noexcept { return models_prefixes_; }

  /// A decision for `node` by `r`, carrying this call's match depths and load scores.
  decision make_decision(node_index node, rule r) const noexcept;
  /// A rule::custom decision for `node` that records show as `rule_name` (which must
  /// outlive the policy: a string literal, or a member).
  decision make_decision(node_index node, std::string_view rule_name) const noexcept;

  /// Per node: leading blocks of the current prompt it holds (all 0 without prefixes).
  std::span<const std::uint32_t> depth() const noexcept { return depth_; }
  /// The nodes whose depth() is not zero (each once, in no set order): a policy that
  /// looks only at nodes holding part of the prompt visits these instead of every node.
  std::span<const node_index> holders() const noexcept { return holders_; }
  /// Full blocks of the current prompt.
  std::uint32_t prompt_blocks() const noexcept { return prompt_blocks_; }
  /// Longest match among all nodes, available or not.
  std::uint32_t longest_match() const noexcept { return longest_; }
  /// Per-node load scores; do_choose() fills what its decision should show.
  std::vector<double>& load_scores() noexcept { return load_; }
  /// Mutable statistics (for a derived policy's own bookkeeping).
  node_stats& stat(node_index node) noexcept { return stats_[node]; }

 private:
  void prepare(const request_view& req);
  void check_node(node_index node, const char* what) const;

  policy_config config_;
  bool models_prefixes_ = false;  // the constructor's track_prefixes (not explain_matches)
  std::vector<node_stats> stats_;
  std::size_t available_ = 0;
  std::optional<hrtree::tree> tree_;
  std::vector<hrtree::block_key> keys_;     // current prompt's block keys
  const tokenize::token_id* keys_of_ = nullptr;  // which prompt keys_ belongs to
  std::size_t keys_len_ = 0;
  std::uint64_t keys_id_ = 0;
  bool keys_valid_ = false;
  std::vector<std::uint32_t> depth_;
  std::vector<node_index> holders_;  // where depth_ is not zero: the next match zeroes only these
  std::vector<double> load_;
  std::uint32_t prompt_blocks_ = 0;
  std::uint32_t longest_ = 0;
};

}  // namespace planetserve::dispatch
