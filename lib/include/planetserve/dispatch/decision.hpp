// SPDX-License-Identifier: MIT
// dispatch::decision: which node a policy chose for a request, and why.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace planetserve::dispatch {

/// A node (server) of the fleet, numbered 0..nodes-1.
using node_index = std::uint32_t;

/// "No node": the decision when no node is available.
inline constexpr node_index no_node = 0xFFFF'FFFFu;

/// The rule that picked the node.
enum class rule : std::uint8_t {
  none_available,    ///< every node is unavailable: nothing was chosen
  round_robin,       ///< rr: the next node in turn
  uniform_random,    ///< random: uniformly among available nodes
  fewest_in_flight,  ///< least-loaded: fewest requests in flight
  two_choices,       ///< p2c: the less loaded of two random nodes
  best_match,        ///< lb: best prefix match among matching nodes at or below the BF cut
  lowest_busy,       ///< lb: no node matched: lowest busy factor
  load_imbalance,    ///< cache-aware: loads too uneven: least loaded
  cache_hit,         ///< cache-aware: best match ratio above the cache threshold
  smallest_cache,    ///< cache-aware: match too small: node with the fewest cached blocks
  longest_prefix,    ///< hrt: least loaded among the nodes holding the longest prefix
  saved_vs_load,     ///< hrt: longest-prefix holders overloaded: best tokens saved minus load cost
  no_prefix,         ///< hrt: no node holds any prefix: least loaded
  session_home,      ///< session: the session's home node on the hash ring
  session_fallback,  ///< session: home unavailable or overloaded: next acceptable node on the ring
  custom,            ///< a user policy's own rule (decision::custom_rule names it)
};

/// The rule's name in kebab-case ("best-match"), for logs and records.
std::string_view to_string(rule r) noexcept;

struct decision;
/// The name of the rule that fired: to_string(d.fired), or a user policy's custom_rule.
std::string_view rule_name(const decision& d) noexcept;

/// A policy's answer. The spans point into buffers the policy owns and reuses: they stay
/// valid until the policy's next choose() or reset(); copy what you keep.
struct decision {
  node_index node = no_node;                     ///< chosen node, or no_node
  rule fired = rule::none_available;             ///< why
  std::uint32_t prompt_blocks = 0;               ///< full blocks in the prompt
  std::span<const std::uint32_t> match_blocks;   ///< per node: leading prompt blocks it holds (empty if untracked)
  std::span<const double> load_score;            ///< per node: the policy's load measure (lower = less loaded)
  /// With rule::custom: the user policy's name for its rule ("warm-node"), shown in records
  /// instead of "custom". Must outlive the policy (a string literal, or a member).
  std::string_view custom_rule;

  /// Whether a node was chosen.
  bool has_node() const noexcept { return node != no_node; }
  /// Same as has_node().
  explicit operator bool() const noexcept { return has_node(); }
  /// Blocks of the prompt the chosen node holds (0 if untracked or none chosen).
  std::uint32_t chosen_match() const noexcept {
    return node < match_blocks.size() ? match_blocks[node] : 0;
  }
};

}  // namespace planetserve::dispatch
