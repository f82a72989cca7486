// SPDX-License-Identifier: MIT
// Compiled body of dispatch::hrt_policy.
#pragma once

#include <planetserve/dispatch/hrt_policy.hpp>

namespace planetserve::dispatch {

hrt_policy::hrt_policy(const policy_config& config) : policy(config, true), rng_(config.seed) {}

void hrt_policy::do_reset() { rng_.seed(config().seed); }

double hrt_policy::load(node_index node) const {
  const node_stats& s = stats(node);
  // A scrape shows the engine's own queue (other clients included); requests we sent since
  // then are not in it yet. Never scraped: our own in-flight count is all we know.
  double l = s.has_live ? s.live.running + s.live.waiting + s.dispatched_since_load
                        : static_cast<double>(s.in_flight);
  if (s.has_live && s.live.kv_cache_usage) l += config().hrt.kv_usage_weight * *s.live.kv_cache_usage;
  return l;
}

decision hrt_policy::do_choose(const request_view&, const fleet_view&) {
  auto& score = load_scores();
  const auto d = depth();
  const auto& c = config().hrt;
  const std::size_t n = nodes();

  double least = 0;
  std::uint32_t longest = 0;
  bool any = false;
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<node_index>(i);
    score[i] = load(x);
    if (!stats()[i].available) continue;
    if (!any || score[i] < least) least = score[i];
    if (d[i] > longest) longest = d[i];
    any = true;
  }

  // Best by `key` (higher wins) among available nodes passing `keep`; random among equals.
  auto pick = [&](auto&& keep, auto&& key) {
    node_index best = no_node;
    double best_key = 0;
    std::uint64_t ties = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto x = static_cast<node_index>(i);
      if (!stats()[i].available || !keep(x)) continue;
      const double k = key(x);
      if (best == no_node || k > best_key) {
        best = x;
        best_key = k;
        ties = 1;
      } else if (k == best_key && rng_.below(++ties) == 0) {
        best = x;
      }
    }
    return best;
  };
  auto all = [](node_index) { return true; };
  auto lighter = [&](node_index x) { return -score[x]; };

  if (longest == 0) return make_decision(pick(all, lighter), rule::no_prefix);

  const node_index holder = pick([&](node_index x) { return d[x] == longest; }, lighter);
  if (score[holder] - least <= c.max_imbalance) return make_decision(holder, rule::longest_prefix);

  // Scored in tokens saved, not match ratio: a long prompt's big hit is worth more queueing
  // than a short prompt's, whatever their ratios.
  const auto chunk = static_cast<double>(config().tree.chunk_tokens);
  const node_index best = pick(all, [&](node_index x) {
    return static_cast<double>(d[x]) * chunk - c.tokens_per_load * (score[x] - least);
  });
  return make_decision(best, rule::saved_vs_load);
}

}  // namespace planetserve::dispatch
