// SPDX-License-Identifier: MIT
// Compiled body of dispatch::seed_lb_policy.
#pragma once

#include <planetserve/dispatch/seed_lb_policy.hpp>

#include <algorithm>
#include <cmath>

namespace planetserve::dispatch {

namespace {

// The base class's prefix index answers a different question (full vLLM blocks); this
// policy keeps its own, so the base one would only cost time.
policy_config without_block_index(policy_config c) {
  c.explain_matches = false;
  return c;
}

constexpr std::uint64_t seed_hash_mod = 1'000'000'007;
// The seed draws each node's first latency in [71/f, 71 f] ms with f = p99/avg = 78/71.
constexpr double seed_latency_spread = 78.0 / 71.0;

}  // namespace

seed_lb_policy::seed_lb_policy(const policy_config& config)
    : policy(without_block_index(config), false), rng_(config.seed), tries_(config.nodes),
      ema_ms_(config.nodes), queued_(config.nodes, 0), matched_(config.nodes, 0) {
  hit_bf_.reserve(config.nodes);
  do_reset();
}

void seed_lb_policy::do_reset() {
  rng_.seed(config().seed);
  const auto& c = config().lb;
  const double a = c.initial_latency.count() * 1e3;
  for (std::size_t i = 0; i < ema_ms_.size(); ++i) {
    const double lo = a / seed_latency_spread, hi = a * seed_latency_spread;
    const double drawn = lo + (hi - lo) * rng_.unit();
    ema_ms_[i] = c.initial_latencies.empty() ? drawn : c.initial_latencies[i].count() * 1e3;
  }
  std::fill(queued_.begin(), queued_.end(), 0);
  hash_chunks(c.seed_baseline_tokens, scratch_);
  for (auto& t : tries_) {
    t = chunk_trie{};
    if (!scratch_.empty()) {
      insert(t, scratch_);
      t.baseline = true;
    }
  }
}

void seed_lb_policy::hash_chunks(std::span<const tokenize::token_id> tokens, std::vector<std::uint64_t>& out) const {
  const std::size_t c = config().tree.chunk_tokens;
  out.clear();
  for (std::size_t i = 0; i < tokens.size(); i += c) {
    std::uint64_t h = 0;
    for (std::size_t j = i; j < std::min(tokens.size(), i + c); ++j) h = (h * 31 + tokens[j]) % seed_hash_mod;
    out.push_back(h);
  }
}

std::uint32_t seed_lb_policy::match(const chunk_trie& t, std::span<const std::uint64_t> hashes) const {
  std::uint32_t at = 0, matched = 0;
  for (const auto h : hashes) {
    const auto it = t.edges.find(std::uint64_t{at} << 32 | h);
    if (it == t.edges.end()) break;
    at = it->second;
    ++matched;
  }
  return matched;
}

void seed_lb_policy::insert(chunk_trie& t, std::span<const std::uint64_t> hashes) {
  std::uint32_t at = 0;
  ++t.pass[0];
  for (const auto h : hashes) {
    auto [it, fresh] = t.edges.try_emplace(std::uint64_t{at} << 32 | h, 0);
    if (fresh) {
      if (t.free.empty()) {
        it->second = static_cast<std::uint32_t>(t.pass.size());
        t.pass.push_back(0);
        t.ends.push_back(0);
      } else {
        it->second = t.free.back();
        t.free.pop_back();
        t.pass[it->second] = t.ends[it->second] = 0;
      }
    }
    at = it->second;
    ++t.pass[at];
  }
  ++t.ends[at];
}

void seed_lb_policy::erase(chunk_trie& t, std::span<const std::uint64_t> hashes) {
  // As the seed's HashRadix.delete: nothing changes unless the whole path exists and a
  // prompt ends at its last node. A child no prompt passes through any more has no
  // children left (each of them counted the same prompts), so removing its edge is enough.
  std::vector<std::uint64_t> path;
  path.reserve(hashes.size());
  std::uint32_t at = 0;
  for (const auto h : hashes) {
    const auto it = t.edges.find(std::uint64_t{at} << 32 | h);
    if (it == t.edges.end()) return;
    path.push_back(it->first);
    at = it->second;
  }
  if (t.ends[at] == 0) return;
  --t.ends[at];
  for (auto k = path.rbegin(); k != path.rend(); ++k) {
    const auto it = t.edges.find(*k);
    const std::uint32_t child = it->second;
    if (--t.pass[child] == 0) {
      t.edges.erase(it);
      t.free.push_back(child);
    }
  }
  if (t.pass[0] > 0) --t.pass[0];
}

std::uint32_t seed_lb_policy::matched_chunks(node_index node, std::span<const tokenize::token_id> tokens) const {
  std::vector<std::uint64_t> h;
  hash_chunks(tokens, h);
  return match(tries_.at(node), h);
}

double seed_lb_policy::busy_factor(node_index node) const {
  const std::uint64_t b = config().lb.batch_size_tokens;
  const std::uint64_t q = queued_[node];
  const std::uint64_t batches = q == 0 ? 0 : (q + b - 1) / b;
  return ema_ms_[node] * static_cast<double>(batches);
}

decision seed_lb_policy::do_choose(const request_view& req, const fleet_view&) {
  hash_chunks(req.tokens, hashes_);
  auto& bf = load_scores();
  const std::size_t n = nodes();
  hit_bf_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const auto k = static_cast<node_index>(i);
    bf[i] = busy_factor(k);
    matched_[i] = match(tries_[i], hashes_);
    if (stats()[i].available && matched_[i] > 0) hit_bf_.push_back(bf[i]);
  }
  auto finish = [&](node_index k, rule r) {
    decision d = make_decision(k, r);
    d.prompt_blocks = static_cast<std::uint32_t>(hashes_.size());
    d.match_blocks = matched_;
    return d;
  };
  // (BF, prompts so far), first in index order on a full tie: Python's min() and stable sort.
  auto lighter = [&](node_index a, node_index b) {
    if (bf[a] != bf[b]) return bf[a] < bf[b];
    return stats()[a].dispatched < stats()[b].dispatched;
  };
  if (!hit_bf_.empty()) {
    std::sort(hit_bf_.begin(), hit_bf_.end());
    const std::size_t m = hit_bf_.size();
    const std::size_t rank = (m * 80 + 99) / 100;  // ceil(0.8 m)
    const double cut = hit_bf_[std::min(m - 1, rank == 0 ? 0 : rank - 1)];
    node_index best = no_node;
    for (std::size_t i = 0; i < n; ++i) {
      const auto k = static_cast<node_index>(i);
      if (!stats()[i].available || matched_[i] == 0 || bf[i] > cut) continue;
      if (best == no_node || matched_[k] > matched_[best] || (matched_[k] == matched_[best] && lighter(k, best)))
        best = k;
    }
    if (best != no_node) return finish(best, rule::best_match);
  }
  node_index best = no_node;
  for (std::size_t i = 0; i < n; ++i) {
    const auto k = static_cast<node_index>(i);
    if (stats()[i].available && (best == no_node || lighter(k, best))) best = k;
  }
  return finish(best, rule::lowest_busy);
}

void seed_lb_policy::do_dispatched(node_index node, const request_view& req) {
  hash_chunks(req.tokens, hashes_);
  queued_[node] += hashes_.size() * config().tree.chunk_tokens;
  auto& t = tries_[node];
  if (t.baseline) {
    hash_chunks(config().lb.seed_baseline_tokens, scratch_);
    erase(t, scratch_);
    t.baseline = false;
  }
  if (t.window.size() >= config().tree.recent_prompts && !t.window.empty()) {
    hash_chunks(t.window.front(), scratch_);
    erase(t, scratch_);
    t.window.pop_front();
  }
  t.window.emplace_back(req.tokens.begin(), req.tokens.end());
  insert(t, hashes_);
  const std::uint64_t drain = config().lb.service_tokens_per_step;
  for (auto& q : queued_) q = q > drain ? q - drain : 0;
}

void seed_lb_policy::do_finished(node_index node, const outcome& result) {
  // The seed updates only when the query returned; a failed one raised in its thread.
  if (!result.ok) return;
  const double w = config().lb.ema_weight;
  const double ms = std::chrono::duration<double>(result.e2e).count() * 1000.0;
  ema_ms_[node] = ema_ms_[node] <= 0 ? ms : ema_ms_[node] * (1.0 - w) + ms * w;
}

}  // namespace planetserve::dispatch
