// SPDX-License-Identifier: MIT
// Compiled body of dispatch::precise_policy.
#pragma once

#include <planetserve/dispatch/precise_policy.hpp>

#include <algorithm>

namespace planetserve::dispatch {

precise_policy::precise_policy(const policy_config& config)
    : lb_policy(config), trust_(config.nodes, kv_trust::unknown), pending_(config.nodes),
      pending_by_request_(config.nodes), exact_depth_(config.nodes, 0) {
  index_.reserve(config.nodes);
  for (std::size_t i = 0; i < config.nodes; ++i)
    index_.emplace_back(hrtree::block_hasher(config.tree.chunk_tokens, config.tree.seed));
}

void precise_policy::on_kv_batch(node_index node, const kvevents::event_batch& batch) {
  auto& idx = index_.at(node);
  ++counters_.batches;
  for (const auto& e : batch.events) {
    ++counters_.events;
    switch (idx.apply(e)) {
      case kvevents::apply_status::applied:
        // A cleared cache is known to be empty: what follows is exact again.
        if (std::holds_alternative<kvevents::all_blocks_cleared>(e) && trust_[node] == kv_trust::lost)
          trust_[node] = kv_trust::exact;
        break;
      case kvevents::apply_status::unknown_parent: ++counters_.unknown_parents; break;
      case kvevents::apply_status::unknown_block: ++counters_.unknown_blocks; break;
      case kvevents::apply_status::bad_block_size:
        ++counters_.bad_block_size;
        trust_[node] = kv_trust::lost;
        break;
    }
  }
}

void precise_policy::on_kv_synced(node_index node) {
  if (trust_.at(node) == kv_trust::unknown) trust_[node] = kv_trust::exact;
}

void precise_policy::on_kv_lost(node_index node, std::string_view) { trust_.at(node) = kv_trust::lost; }

void precise_policy::on_kv_restarted(node_index node) {
  index_.at(node).clear();
  trust_[node] = kv_trust::unknown;
}

std::size_t precise_policy::match(node_index node) const {
  const auto& idx = index_[node];
  const auto& pend = pending_[node];
  std::size_t n = 0;
  while (n < keys_.size() && (idx.holds(keys_[n]) || pend.count(keys_[n]) != 0)) ++n;
  return n;
}

decision precise_policy::do_choose(const request_view& req, const fleet_view& fleet) {
  prefixes()->hasher().keys(req.tokens, keys_);
  // vLLM computes at least the prompt's last token: a hit covers at most (n - 1) / block tokens.
  const std::size_t cap = req.tokens.empty() ? 0 : (req.tokens.size() - 1) / config().tree.chunk_tokens;
  const auto approx = depth();
  bool fallback = false;
  exact_holders_.clear();
  for (node_index i = 0; i < nodes(); ++i) {
    if (trust_[i] == kv_trust::exact) {
      exact_depth_[i] = static_cast<std::uint32_t>(std::min(match(i), cap));
    } else {
      exact_depth_[i] = std::min<std::uint32_t>(approx[i], static_cast<std::uint32_t>(cap));
      fallback = fallback || stats()[i].available;
    }
    if (exact_depth_[i] > 0) exact_holders_.push_back(i);
  }
  if (fallback) ++counters_.fallback_decisions;
  decision d = lb_policy::do_choose(req, fleet);
  const bool matched = d.fired == rule::best_match;
  d.fired = rule::custom;
  d.custom_rule = fallback ? "precise-fallback" : matched ? "precise-match" : "precise-lowest-busy";
  d.match_blocks = exact_depth_;
  return d;
}

void precise_policy::do_dispatched(node_index node, const request_view& req) {
  lb_policy::do_dispatched(node, req);
  // keys_ are this request's when dispatched right after choose(); hash again otherwise.
  std::vector<hrtree::block_key> keys;
  prefixes()->hasher().keys(req.tokens, keys);
  auto& pend = pending_[node];
  for (const auto k : keys) ++pend[k];
  pending_by_request_[node][req.id] = std::move(keys);
}

void precise_policy::do_finished(node_index node, const outcome& result) {
  lb_policy::do_finished(node, result);
  auto& by_req = pending_by_request_[node];
  const auto it = by_req.find(result.request_id);
  if (it == by_req.end()) return;
  auto& pend = pending_[node];
  for (const auto k : it->second)
    if (auto p = pend.find(k); p != pend.end() && --p->second == 0) pend.erase(p);
  by_req.erase(it);
}

void precise_policy::do_reset() {
  lb_policy::do_reset();
  // The indexes follow the servers, not the run: a reset cache says so with AllBlocksCleared.
  for (auto& p : pending_) p.clear();
  for (auto& p : pending_by_request_) p.clear();
  counters_ = {};
}

}  // namespace planetserve::dispatch
