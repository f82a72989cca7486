// SPDX-License-Identifier: MIT
// Compiled body of dispatch::session_policy (consistent-hash ring, bounded-load walk).
#pragma once

#include <planetserve/dispatch/session_policy.hpp>

#include <algorithm>

namespace planetserve::dispatch {
namespace detail {

/// splitmix64's finaliser: spreads consecutive integers (node × replica, session numbers)
/// evenly over 64 bits, which is all the ring needs.
inline std::uint64_t ring_mix(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace detail

std::uint64_t session_key(std::string_view session_id) noexcept {
  // FNV-1a over the bytes, then mixed: ids like "1", "2", ... must land far apart.
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : session_id) h = (h ^ c) * 0x100000001B3ULL;
  h = detail::ring_mix(h);
  return h ? h : 1;
}

session_policy::session_policy(const policy_config& config) : policy(config, false) {
  const std::size_t v = config.session.virtual_nodes;
  ring_.reserve(config.nodes * v);
  for (std::size_t n = 0; n < config.nodes; ++n)
    for (std::size_t r = 0; r < v; ++r)
      ring_.emplace_back(detail::ring_mix((static_cast<std::uint64_t>(n) << 32) ^ r ^ config.seed),
                         static_cast<node_index>(n));
  std::sort(ring_.begin(), ring_.end());
}

std::size_t session_policy::ring_start(std::uint64_t key) const noexcept {
  const std::uint64_t h = detail::ring_mix(key);
  const auto it = std::lower_bound(ring_.begin(), ring_.end(), std::pair<std::uint64_t, node_index>{h, 0});
  return it == ring_.end() ? 0 : static_cast<std::size_t>(it - ring_.begin());
}

node_index session_policy::home_of(std::uint64_t key) const noexcept { return ring_[ring_start(key)].second; }

bool session_policy::acceptable(node_index node, std::uint32_t least) const noexcept {
  const node_stats& s = stats()[node];
  if (!s.available) return false;
  const double load = s.in_flight;
  const double low = least;
  // Overloaded only when both the gap and the ratio are large (the SGLang router's
  // imbalance test): a gap of a few requests on an idle fleet is not worth a cold cache.
  const bool overloaded = load - low > config().session.balance_abs && load > config().session.balance_rel * low;
  return !overloaded;
}

decision session_policy::do_choose(const request_view& req, const fleet_view&) {
  auto& load = load_scores();
  node_index least_node = no_node;
  std::uint32_t least = 0;
  for (std::size_t i = 0; i < nodes(); ++i) {
    const node_stats& s = stats()[i];
    load[i] = s.in_flight;
    if (s.available && (least_node == no_node || s.in_flight < least)) {
      least_node = static_cast<node_index>(i);
      least = s.in_flight;
    }
  }
  if (req.session == 0) return make_decision(least_node, rule::fewest_in_flight);
  const std::size_t start = ring_start(req.session);
  const node_index home = ring_[start].second;
  if (acceptable(home, least)) return make_decision(home, rule::session_home);
  for (std::size_t k = 1; k < ring_.size(); ++k) {
    const node_index n = ring_[(start + k) % ring_.size()].second;
    if (acceptable(n, least)) return make_decision(n, rule::session_fallback);
  }
  // Unreachable while least_node is available (it is always acceptable); kept for safety.
  return make_decision(least_node, rule::session_fallback);
}

}  // namespace planetserve::dispatch
