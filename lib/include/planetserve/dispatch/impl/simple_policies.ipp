// SPDX-License-Identifier: MIT
// Compiled bodies of the load-only policies: rr, random, least-loaded, p2c.
#pragma once

#include <planetserve/dispatch/least_loaded_policy.hpp>
#include <planetserve/dispatch/p2c_policy.hpp>
#include <planetserve/dispatch/random_policy.hpp>
#include <planetserve/dispatch/rr_policy.hpp>

namespace planetserve::dispatch {
namespace detail {

/// The `k`-th available node (0-based); the caller knows at least k+1 are available.
inline node_index kth_available(std::span<const node_stats> stats, std::uint64_t k) noexcept {
  for (std::size_t i = 0; i < stats.size(); ++i)
    if (stats[i].available && k-- == 0) return static_cast<node_index>(i);
  return no_node;
}

inline std::size_t count_available(std::span<const node_stats> stats) noexcept {
  std::size_t n = 0;
  for (const auto& s : stats) n += s.available ? 1 : 0;
  return n;
}

inline void fill_in_flight(std::span<const node_stats> stats, std::vector<double>& load) {
  for (std::size_t i = 0; i < stats.size(); ++i) load[i] = stats[i].in_flight;
}

}  // namespace detail

// rr --------------------------------------------------------------------------------------
rr_policy::rr_policy(const policy_config& config) : policy(config, false) {}

decision rr_policy::do_choose(const request_view&, const fleet_view&) {
  detail::fill_in_flight(stats(), load_scores());
  const std::size_t n = nodes();
  for (std::size_t k = 0; k < n; ++k) {
    const auto i = static_cast<node_index>((next_ + k) % n);
    if (stats()[i].available) {
      next_ = static_cast<node_index>((i + 1) % n);
      return make_decision(i, rule::round_robin);
    }
  }
  return make_decision(no_node, rule::none_available);
}

void rr_policy::do_reset() { next_ = 0; }

// random ----------------------------------------------------------------------------------
random_policy::random_policy(const policy_config& config) : seeded_policy(config) {}

decision random_policy::do_choose(const request_view&, const fleet_view&) {
  detail::fill_in_flight(stats(), load_scores());
  const std::size_t n = detail::count_available(stats());
  return make_decision(detail::kth_available(stats(), rng().below(n)), rule::uniform_random);
}

// least-loaded ----------------------------------------------------------------------------
least_loaded_policy::least_loaded_policy(const policy_config& config) : seeded_policy(config) {}

decision least_loaded_policy::do_choose(const request_view&, const fleet_view&) {
  detail::fill_in_flight(stats(), load_scores());
  node_index best = no_node;
  std::uint32_t best_load = 0;
  std::uint64_t ties = 0;
  for (std::size_t i = 0; i < nodes(); ++i) {
    const node_stats& s = stats()[i];
    if (!s.available) continue;
    if (best == no_node || s.in_flight < best_load) {
      best = static_cast<node_index>(i);
      best_load = s.in_flight;
      ties = 1;
    } else if (s.in_flight == best_load && rng().below(++ties) == 0) {
      best = static_cast<node_index>(i);  // reservoir: each tied node equally likely
    }
  }
  return make_decision(best, rule::fewest_in_flight);
}

// p2c -------------------------------------------------------------------------------------
p2c_policy::p2c_policy(const policy_config& config) : seeded_policy(config) {}

decision p2c_policy::do_choose(const request_view&, const fleet_view&) {
  detail::fill_in_flight(stats(), load_scores());
  const std::size_t n = detail::count_available(stats());
  const std::uint64_t a = rng().below(n);
  if (n == 1) return make_decision(detail::kth_available(stats(), a), rule::two_choices);
  std::uint64_t b = rng().below(n - 1);
  if (b >= a) ++b;
  const node_index x = detail::kth_available(stats(), a);
  const node_index y = detail::kth_available(stats(), b);
  const node_index pick = stats()[y].in_flight < stats()[x].in_flight ? y : x;
  return make_decision(pick, rule::two_choices);
}

}  // namespace planetserve::dispatch
