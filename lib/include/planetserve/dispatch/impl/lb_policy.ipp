// SPDX-License-Identifier: MIT
// Compiled body of dispatch::lb_policy.
#pragma once

#include <planetserve/dispatch/lb_policy.hpp>

#include <algorithm>
#include <cmath>

namespace planetserve::dispatch {

lb_policy::lb_policy(const policy_config& config)
    : policy(config, true), rng_(config.seed), ema_(config.nodes), level_(config.nodes, 0),
      in_busy_(config.nodes, 0), is_touched_(config.nodes, 0) {
  sorted_.reserve(config.nodes);
  matching_.reserve(config.nodes);
  busy_.reserve(config.nodes);
  touched_.reserve(config.nodes);
  do_reset();
}

bool lb_policy::idle_before(node_index a, node_index b) const noexcept {
  const auto da = stats()[a].dispatched, db = stats()[b].dispatched;
  return da != db ? da < db : a < b;
}

void lb_policy::touch(node_index node) {
  if (is_touched_[node]) return;
  is_touched_[node] = 1;
  touched_.push_back(node);
}

void lb_policy::do_reset() {
  // The seed started every node from a random latency near 71 ms; seeded here.
  rng_.seed(config().seed);
  const auto& c = config().lb;
  for (std::size_t i = 0; i < ema_.size(); ++i) {
    const double drawn = c.initial_latency.count() * (1.0 + c.initial_latency_jitter * (2.0 * rng_.unit() - 1.0));
    ema_[i] = c.initial_latencies.empty() ? drawn : c.initial_latencies[i].count();
  }
  std::fill(level_.begin(), level_.end(), 0);
  drained_ = 0;
  busy_.clear();
  std::fill(in_busy_.begin(), in_busy_.end(), 0);
  const auto less = [this](node_index a, node_index b) { return idle_before(a, b); };
  idle_.reset(nodes());
  touched_.clear();
  std::fill(is_touched_.begin(), is_touched_.end(), 0);
  for (std::size_t i = 0; i < nodes(); ++i) {
    const auto x = static_cast<node_index>(i);
    if (stats()[i].available) idle_.push(x, less);
    touch(x);
  }
}

double lb_policy::busy_factor(node_index node) const {
  const double queued_tokens = static_cast<double>(queued(level_.at(node)));
  const double batches = std::ceil(queued_tokens / static_cast<double>(config().lb.batch_size_tokens));
  return ema_[node] * batches;
}

decision lb_policy::do_choose(const request_view&, const fleet_view&) {
  auto& bf = load_scores();
  const auto d = routing_depth();
  // Only these BFs can differ from the last decision's: touched nodes, and queues draining.
  for (const node_index i : touched_) {
    bf[i] = busy_factor(i);
    is_touched_[i] = 0;
  }
  touched_.clear();
  for (const node_index i : busy_) bf[i] = busy_factor(i);

  // Blocks a node must hold to count as matching: at least one, and min_match_ratio of the prompt.
  const double min_blocks = std::max(1.0, config().lb.min_match_ratio * static_cast<double>(prompt_blocks()));
  matching_.clear();
  for (const node_index i : routing_holders())
    if (stats()[i].available && static_cast<double>(d[i]) >= min_blocks) matching_.push_back(i);

  // (match desc, BF asc, requests asc, index asc): lexicographic.
  auto better = [&](node_index a, node_index b) {
    if (d[a] != d[b]) return d[a] > d[b];
    if (bf[a] != bf[b]) return bf[a] < bf[b];
    if (stats()[a].dispatched != stats()[b].dispatched) return stats()[a].dispatched < stats()[b].dispatched;
    return a < b;
  };

  if (!matching_.empty()) {
    // The cut is the percentile of every available node's BF: taken over the matching
    // nodes alone, a prefix held by one node would make that node eligible however busy
    // it is, and a shared preamble would send every request to it.
    //
    // numpy.percentile's default (linear) interpolation. The available nodes are the idle
    // ones (BF 0, counted, not listed) and the queueing ones (listed in sorted_); in sorted
    // order the zeros sit after the negative BFs, which only a negative latency makes.
    sorted_.clear();
    for (const node_index i : busy_)
      if (stats()[i].available) sorted_.push_back(bf[i]);
    const std::size_t zeros = idle_.size();
    const std::size_t total = zeros + sorted_.size();
    const auto negative = static_cast<std::size_t>(
        std::count_if(sorted_.begin(), sorted_.end(), [](double x) { return x < 0.0; }));
    auto kth = [&](std::size_t k) {
      if (k >= negative && k < negative + zeros) return 0.0;
      const std::size_t at = k < negative ? k : k - zeros;
      std::nth_element(sorted_.begin(), sorted_.begin() + static_cast<std::ptrdiff_t>(at), sorted_.end());
      return sorted_[at];
    };
    const double q = config().lb.eligible_percentile / 100.0;
    const double pos = q * static_cast<double>(total - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const double v_lo = kth(lo);
    double cut = v_lo;
    if (lo + 1 < total) {
      const double v_hi = kth(lo + 1);
      cut = v_lo + (v_hi - v_lo) * (pos - static_cast<double>(lo));
    }
    node_index best = no_node;
    for (const node_index i : matching_)
      if (bf[i] <= cut && (best == no_node || better(i, best))) best = i;
    if (best != no_node) return make_decision(best, rule::best_match);
  }

  // Lowest BF, ties by fewer requests, then lower index: the idle node first in the heap
  // (BF 0) against every available queueing node.
  node_index best = idle_.empty() ? no_node : idle_.top();
  for (const node_index x : busy_) {
    if (!stats()[x].available) continue;
    if (best == no_node || bf[x] < bf[best] || (bf[x] == bf[best] && idle_before(x, best))) best = x;
  }
  return make_decision(best, rule::lowest_busy);
}

void lb_policy::do_dispatched(node_index node, const request_view& req) {
  const auto less = [this](node_index a, node_index b) { return idle_before(a, b); };
  level_[node] = drained_ + queued(level_[node]) + req.tokens.size();
  drained_ += config().lb.service_tokens_per_step;
  touch(node);
  if (level_[node] > drained_) {
    idle_.erase(node, less);
    if (!in_busy_[node]) {
      in_busy_[node] = 1;
      busy_.push_back(node);
    }
  } else {
    idle_.update(node, less);  // still idle, one more request
  }
  // Queues that ran empty: their nodes are idle again.
  for (std::size_t k = 0; k < busy_.size();) {
    const node_index b = busy_[k];
    if (level_[b] > drained_) {
      ++k;
      continue;
    }
    busy_[k] = busy_.back();
    busy_.pop_back();
    in_busy_[b] = 0;
    touch(b);
    if (stats()[b].available) idle_.push(b, less);
  }
}

void lb_policy::do_finished(node_index node, const outcome& result) {
  // A failed request's time says nothing about service speed: only successes feed the EMA.
  if (!result.ok) return;
  const double w = config().lb.ema_weight;
  const double seconds = std::chrono::duration<double>(result.e2e).count();
  ema_[node] = (1.0 - w) * ema_[node] + w * seconds;
  touch(node);
}

void lb_policy::do_available(node_index node, bool available) {
  const auto less = [this](node_index a, node_index b) { return idle_before(a, b); };
  if (!available) idle_.erase(node, less);
  else if (!in_busy_[node] && !idle_.contains(node)) idle_.push(node, less);
}

}  // namespace planetserve::dispatch
