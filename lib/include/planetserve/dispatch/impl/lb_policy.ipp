// SPDX-License-Identifier: MIT
// Compiled body of dispatch::lb_policy.
#pragma once

#include <planetserve/dispatch/lb_policy.hpp>

#include <algorithm>
#include <cmath>

namespace planetserve::dispatch {

lb_policy::lb_policy(const policy_config& config)
    : policy(config, true), rng_(config.seed), ema_(config.nodes), queued_(config.nodes, 0.0) {
  sorted_.reserve(config.nodes);
  matching_.reserve(config.nodes);
  do_reset();
}

void lb_policy::do_reset() {
  // The seed started every node from a random latency near 71 ms; seeded here.
  rng_.seed(config().seed);
  const auto& c = config().lb;
  for (std::size_t i = 0; i < ema_.size(); ++i) {
    const double drawn = c.initial_latency.count() * (1.0 + c.initial_latency_jitter * (2.0 * rng_.unit() - 1.0));
    ema_[i] = c.initial_latencies.empty() ? drawn : c.initial_latencies[i].count();
  }
  std::fill(queued_.begin(), queued_.end(), 0.0);
}

double lb_policy::busy_factor(node_index node) const {
  const double batches = std::ceil(queued_.at(node) / static_cast<double>(config().lb.batch_size_tokens));
  return ema_[node] * batches;
}

decision lb_policy::do_choose(const request_view&, const fleet_view&) {
  auto& bf = load_scores();
  const auto d = routing_depth();
  const std::size_t n = nodes();
  matching_.clear();
  sorted_.clear();
  // Blocks a node must hold to count as matching: at least one, and min_match_ratio of the prompt.
  const double min_blocks = std::max(1.0, config().lb.min_match_ratio * static_cast<double>(prompt_blocks()));
  for (std::size_t i = 0; i < n; ++i) {
    bf[i] = busy_factor(static_cast<node_index>(i));
    if (!stats()[i].available) continue;
    // The cut is the percentile of every available node's BF: taken over the matching
    // nodes alone, a prefix held by one node would make that node eligible however busy
    // it is, and a shared preamble would send every request to it.
    sorted_.push_back(bf[i]);
    if (static_cast<double>(d[i]) >= min_blocks) matching_.push_back(static_cast<node_index>(i));
  }

  // (match desc, BF asc, requests asc, index asc): lexicographic, first wins on full ties.
  auto better = [&](node_index a, node_index b) {
    if (d[a] != d[b]) return d[a] > d[b];
    if (bf[a] != bf[b]) return bf[a] < bf[b];
    return stats()[a].dispatched < stats()[b].dispatched;
  };

  if (!matching_.empty()) {
    // numpy.percentile's default (linear) interpolation over the available nodes' BFs.
    const double q = config().lb.eligible_percentile / 100.0;
    const double pos = q * static_cast<double>(sorted_.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    std::nth_element(sorted_.begin(), sorted_.begin() + static_cast<std::ptrdiff_t>(lo), sorted_.end());
    const double v_lo = sorted_[lo];
    double cut = v_lo;
    if (lo + 1 < sorted_.size()) {
      const double v_hi = *std::min_element(sorted_.begin() + static_cast<std::ptrdiff_t>(lo) + 1, sorted_.end());
      cut = v_lo + (v_hi - v_lo) * (pos - static_cast<double>(lo));
    }
    node_index best = no_node;
    for (const node_index i : matching_)
      if (bf[i] <= cut && (best == no_node || better(i, best))) best = i;
    if (best != no_node) return make_decision(best, rule::best_match);
  }

  node_index best = no_node;
  for (std::size_t i = 0; i < n; ++i) {
    if (!stats()[i].available) continue;
    const auto x = static_cast<node_index>(i);
    if (best == no_node || bf[x] < bf[best] ||
        (bf[x] == bf[best] && stats()[x].dispatched < stats()[best].dispatched))
      best = x;
  }
  return make_decision(best, rule::lowest_busy);
}

void lb_policy::do_dispatched(node_index node, const request_view& req) {
  queued_[node] += static_cast<double>(req.tokens.size());
  const auto drain = static_cast<double>(config().lb.service_tokens_per_step);
  for (auto& q : queued_) q = std::max(0.0, q - drain);
}

void lb_policy::do_finished(node_index node, const outcome& result) {
  // A failed request's time says nothing about service speed: only successes feed the EMA.
  if (!result.ok) return;
  const double w = config().lb.ema_weight;
  const double seconds = std::chrono::duration<double>(result.e2e).count();
  ema_[node] = (1.0 - w) * ema_[node] + w * seconds;
}

}  // namespace planetserve::dispatch
