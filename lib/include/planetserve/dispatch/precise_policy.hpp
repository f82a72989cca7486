// SPDX-License-Identifier: MIT
// dispatch::precise_policy: lb's load rule on an exact index of each node's cache, fed by its KV events.
#pragma once

#include <planetserve/dispatch/kv_event_sink.hpp>
#include <planetserve/dispatch/lb_policy.hpp>
#include <planetserve/kvevents/block_index.hpp>

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace planetserve::dispatch {

/// How far a node's events can be trusted.
enum class kv_trust : std::uint8_t {
  unknown,  ///< nothing synced yet (no events, or joined late): the approximate model decides
  exact,    ///< every event since a known-empty cache was applied
  lost,     ///< events went missing: the approximate model decides until the cache is cleared
};

/// Counters of what the events did, for logs and tests.
struct precise_counters {
  std::uint64_t batches = 0;            ///< batches applied
  std::uint64_t events = 0;             ///< events applied
  std::uint64_t unknown_parents = 0;    ///< BlockStored chained on a block never seen (left out)
  std::uint64_t unknown_blocks = 0;     ///< BlockRemoved of a block never seen
  std::uint64_t bad_block_size = 0;     ///< BlockStored with another block size (the node is then lost)
  std::uint64_t fallback_decisions = 0; ///< decisions where some available node was judged by the approximate model
};

/// `precise`: lb's rule (best match at or above --lb-min-match among nodes under the busy
/// factor cut, else lowest busy factor) on what each node really holds. Per node, a
/// kvevents::block_index built from the node's BlockStored / BlockRemoved /
/// AllBlocksCleared events (keyed by their token ids), plus the prompts dispatched to it and
/// not yet finished (the server stores their blocks before it schedules a later request).
/// A match is capped at (prompt tokens - 1) / block size blocks, as vLLM computes at least
/// the last token. A node whose events are not exact (kv_trust) is judged by lb's
/// approximate model (the HR-tree) instead, and such decisions are recorded as
/// `precise-fallback`; others as `precise-match` or `precise-lowest-busy`.
class precise_policy final : public lb_policy, public kv_event_sink {
 public:
  /// A policy for `config`; throws std::invalid_argument (naming the field) if check(config, diag) fails; tree.chunk_tokens must be the servers' block size.
  explicit precise_policy(const policy_config& config);
  std::string_view name() const noexcept override { return "precise"; }

  void on_kv_batch(node_index node, const kvevents::event_batch& batch) override;
  void on_kv_synced(node_index node) override;
  void on_kv_lost(node_index node, std::string_view why) override;
  void on_kv_restarted(node_index node) override;

  /// How far `node`'s events are trusted.
  kv_trust trust(node_index node) const { return trust_.at(node); }
  /// `node`'s exact index.
  const kvevents::block_index& index(node_index node) const { return index_.at(node); }
  /// What the events did so far.
  const precise_counters& counters() const noexcept { return counters_; }

 protected:
  decision do_choose(const request_view& req, const fleet_view& fleet) override;
  void do_dispatched(node_index node, const request_view& req) override;
  void do_finished(node_index node, const outcome& result) override;
  void do_reset() override;
  std::span<const std::uint32_t> routing_depth() const noexcept override { return exact_depth_; }
  std::span<const node_index> routing_holders() const noexcept override { return exact_holders_; }

 private:
  std::size_t match(node_index node) const;

  std::vector<kvevents::block_index> index_;
  std::vector<kv_trust> trust_;
  // Per node: keys of prompts dispatched and not finished (how many prompts hold each), and
  // which keys each request holds there.
  std::vector<std::unordered_map<hrtree::block_key, std::uint32_t>> pending_;
  std::vector<std::unordered_map<std::uint64_t, std::vector<hrtree::block_key>>> pending_by_request_;
  std::vector<hrtree::block_key> keys_;  // the current prompt's
  std::vector<std::uint32_t> exact_depth_;
  std::vector<node_index> exact_holders_;  // nodes with a non-zero exact_depth_ this decision
  precise_counters counters_;
};

}  // namespace planetserve::dispatch
