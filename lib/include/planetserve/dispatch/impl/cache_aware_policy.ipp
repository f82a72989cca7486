// SPDX-License-Identifier: MIT
// Compiled body of dispatch::cache_aware_policy.
#pragma once

#include <planetserve/dispatch/cache_aware_policy.hpp>

namespace planetserve::dispatch {

cache_aware_policy::cache_aware_policy(const policy_config& config) : policy(config, true) {}

decision cache_aware_policy::do_choose(const request_view&, const fleet_view&) {
  auto& load = load_scores();
  const auto d = depth();
  const auto& c = config().cache_aware;
  node_index least = no_node;
  double lo = 0, hi = 0;
  for (std::size_t i = 0; i < nodes(); ++i) {
    load[i] = stats()[i].in_flight;
    if (!stats()[i].available) continue;
    if (least == no_node || load[i] < lo) {
      least = static_cast<node_index>(i);
      lo = load[i];
    }
    if (load[i] > hi) hi = load[i];
  }
  if (hi - lo > c.balance_abs_threshold && hi > c.balance_rel_threshold * lo)
    return make_decision(least, rule::load_imbalance);

  // Best match; ties by fewer in flight, then lower index. Only nodes holding part of the
  // prompt can pass the threshold (a ratio of 0 never exceeds it): they are all we visit.
  node_index best = no_node;
  for (const node_index x : holders()) {
    if (!stats()[x].available) continue;
    if (best == no_node || d[x] > d[best] || (d[x] == d[best] && (load[x] < load[best] || (load[x] == load[best] && x < best))))
      best = x;
  }
  const double ratio = best == no_node || prompt_blocks() == 0 ? 0.0 : static_cast<double>(d[best]) / prompt_blocks();
  if (ratio > c.cache_threshold) return make_decision(best, rule::cache_hit);

  // The node with the most room: fewest cached blocks; ties by fewer in flight, lower index.
  const hrtree::tree& t = *prefixes();
  node_index room = no_node;
  for (std::size_t i = 0; i < nodes(); ++i) {
    if (!stats()[i].available) continue;
    const auto x = static_cast<node_index>(i);
    if (room == no_node || t.held_blocks(x) < t.held_blocks(room) ||
        (t.held_blocks(x) == t.held_blocks(room) && load[x] < load[room]))
      room = x;
  }
  return make_decision(room, rule::smallest_cache);
}

}  // namespace planetserve::dispatch
