// SPDX-License-Identifier: MIT
// Compiled body of dispatch::policy, decision names and config checks.
#pragma once

#include <planetserve/dispatch/policy.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace planetserve::dispatch {

std::string_view to_string(rule r) noexcept {
  switch (r) {
    case rule::none_available: return "none-available";
    case rule::round_robin: return "round-robin";
    case rule::uniform_random: return "uniform-random";
    case rule::fewest_in_flight: return "fewest-in-flight";
    case rule::two_choices: return "two-choices";
    case rule::best_match: return "best-match";
    case rule::lowest_busy: return "lowest-busy";
    case rule::load_imbalance: return "load-imbalance";
    case rule::cache_hit: return "cache-hit";
    case rule::smallest_cache: return "smallest-cache";
    case rule::longest_prefix: return "longest-prefix";
    case rule::saved_vs_load: return "saved-vs-load";
    case rule::no_prefix: return "no-prefix";
    case rule::session_home: return "session-home";
    case rule::session_fallback: return "session-fallback";
    case rule::custom: return "custom";
  }
  return "?";
}

std::string_view rule_name(const decision& d) noexcept {
  return d.fired == rule::custom && !d.custom_rule.empty() ? d.custom_rule : to_string(d.fired);
}

std::string_view to_string(lb_compat c) noexcept { return c == lb_compat::seed ? "seed" : "pswm"; }

namespace {

// What is wrong with `c`, naming the field; empty if nothing.
std::string config_problem(const policy_config& c) {
  if (c.nodes == 0) return "nodes: the fleet needs at least one node";
  if (c.nodes >= no_node) return "nodes: too many nodes";
  if (c.tree.chunk_tokens == 0) return "tree.chunk_tokens: must be at least 1";
  if (!(c.lb.ema_weight >= 0 && c.lb.ema_weight <= 1)) return "lb.ema_weight: must be in [0, 1]";
  if (!(c.lb.initial_latency.count() >= 0)) return "lb.initial_latency: must not be negative";
  if (!(c.lb.initial_latency_jitter >= 0 && c.lb.initial_latency_jitter <= 1))
    return "lb.initial_latency_jitter: must be in [0, 1]";
  if (c.lb.batch_size_tokens == 0) return "lb.batch_size_tokens: must be at least 1";
  if (!(c.lb.eligible_percentile >= 0 && c.lb.eligible_percentile <= 100))
    return "lb.eligible_percentile: must be in [0, 100]";
  if (!(c.lb.min_match_ratio >= 0 && c.lb.min_match_ratio <= 1)) return "lb.min_match_ratio: must be in [0, 1]";
  if (!c.lb.initial_latencies.empty() && c.lb.initial_latencies.size() != c.nodes)
    return "lb.initial_latencies: " + std::to_string(c.lb.initial_latencies.size()) + " values for " +
           std::to_string(c.nodes) + " nodes (give one per node, or none)";
  for (const auto& l : c.lb.initial_latencies)
    if (!(l.count() >= 0) || !std::isfinite(l.count())) return "lb.initial_latencies: must be finite and not negative";
  if (!(c.cache_aware.cache_threshold >= 0 && c.cache_aware.cache_threshold <= 1))
    return "cache_aware.cache_threshold: must be in [0, 1]";
  if (!(c.cache_aware.balance_abs_threshold >= 0)) return "cache_aware.balance_abs_threshold: must not be negative";
  if (!(c.cache_aware.balance_rel_threshold >= 0)) return "cache_aware.balance_rel_threshold: must not be negative";
  if (!(c.hrt.max_imbalance >= 0)) return "hrt.max_imbalance: must not be negative";
  if (!(c.hrt.tokens_per_load >= 0)) return "hrt.tokens_per_load: must not be negative";
  if (!(c.hrt.kv_usage_weight >= 0)) return "hrt.kv_usage_weight: must not be negative";
  if (c.session.virtual_nodes == 0) return "session.virtual_nodes: must be at least 1";
  if (c.session.virtual_nodes > 100'000) return "session.virtual_nodes: at most 100000 per node";
  if (!(c.session.balance_abs >= 0)) return "session.balance_abs: must not be negative";
  if (!(c.session.balance_rel >= 1)) return "session.balance_rel: must be at least 1";
  return {};
}

}  // namespace

boost::system::error_code check(const policy_config& config, diagnostics& diag) {
  auto what = config_problem(config);
  if (what.empty()) return {};
  diag.message = std::move(what);
  return error::invalid_argument;
}

policy::policy(const policy_config& config, bool track_prefixes)
    : config_(config), models_prefixes_(track_prefixes), stats_(config.nodes), available_(config.nodes),
      depth_(config.nodes, 0), load_(config.nodes, 0.0) {
  if (diagnostics diag; check(config_, diag)) throw std::invalid_argument("dispatch::policy: " + diag.message);
  if (track_prefixes || config_.explain_matches) tree_.emplace(config_.nodes, config_.tree);
}

policy::~policy() = default;

std::optional<std::uint32_t> policy::predicted_cached_tokens(const decision& d, std::size_t prompt_tokens) const noexcept {
  if (!models_prefix_cache() || !d.has_node()) return std::nullopt;
  // A match counts whole blocks; the seed's chunks may end short, so cap at the prompt.
  const std::uint64_t tokens = std::uint64_t{d.chosen_match()} * config_.tree.chunk_tokens;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>({tokens, prompt_tokens, 0xFFFF'FFFFu}));
}

void policy::check_node(node_index node, const char* what) const {
  if (node >= stats_.size())
    throw std::out_of_range(std::string("dispatch::policy::") + what + ": node " +
                            std::to_string(node) + " of " + std::to_string(stats_.size()));
}

void policy::prepare(const request_view& req) {
  // Hash once per request: on_dispatched() of the same view reuses these keys.
  if (tree_) {
    tree_->hasher().keys(req.tokens, keys_);
    // Only the last prompt's holders have non-zero depths: zeroing them instead of the
    // whole array keeps a decision's cost independent of the fleet size.
    for (const node_index n : holders_) depth_[n] = 0;
    longest_ = tree_->match_holders(keys_, depth_, holders_);
  } else {
    keys_.clear();
    longest_ = 0;
  }
  keys_of_ = req.tokens.data();
  keys_len_ = req.tokens.size();
  keys_id_ = req.id;
  keys_valid_ = true;
  prompt_blocks_ = static_cast<std::uint32_t>(req.tokens.size() / config_.tree.chunk_tokens);
}

decision policy::choose(const request_view& req, const fleet_view& fleet) {
  prepare(req);
  if (available_ == 0) return make_decision(no_node, rule::none_available);
  decision d = do_choose(req, fleet);
  if (d.node >= stats_.size() || !stats_[d.node].available)
    throw std::logic_error("dispatch::policy::choose: policy '" + std::string(name()) +
                           "' chose an unavailable node");
  return d;
}

decision policy::make_decision(node_index node, rule r) const noexcept {
  decision d;
  d.node = node;
  d.fired = r;
  d.prompt_blocks = prompt_blocks_;
  if (tree_) d.match_blocks = depth_;
  d.load_score = load_;
  return d;
}

decision policy::make_decision(node_index node, std::string_view rule_name) const noexcept {
  decision d = make_decision(node, rule::custom);
  d.custom_rule = rule_name;
  return d;
}

void policy::on_dispatched(node_index node, const request_view& req) {
  check_node(node, "on_dispatched");
  node_stats& s = stats_[node];
  ++s.dispatched;
  ++s.in_flight;
  ++s.dispatched_since_load;
  if (tree_) {
    if (!keys_valid_ || keys_of_ != req.tokens.data() || keys_len_ != req.tokens.size() ||
        keys_id_ != req.id)
      tree_->hasher().keys(req.tokens, keys_);
    tree_->insert(node, keys_);
  }
  keys_valid_ = false;
  do_dispatched(node, req);
}

void policy::on_finished(node_index node, const outcome& result) {
  check_node(node, "on_finished");
  node_stats& s = stats_[node];
  if (s.in_flight > 0) --s.in_flight;
  ++s.finished;
  if (!result.ok) ++s.failed;
  do_finished(node, result);
}

void policy::on_load(node_index node, const live_load& load) {
  check_node(node, "on_load");
  node_stats& s = stats_[node];
  s.has_live = true;
  s.live = load;
  s.dispatched_since_load = 0;
  do_load(node, load);
}

void policy::set_available(node_index node, bool available) {
  check_node(node, "set_available");
  node_stats& s = stats_[node];
  if (s.available != available) {
    s.available = available;
    if (available) ++available_; else --available_;
    do_available(node, available);
  }
}

void policy::set_cache_capacity(node_index node, std::size_t blocks) {
  check_node(node, "set_cache_capacity");
  if (tree_) tree_->set_capacity(node, blocks);
}

void policy::forget_cache(node_index node) {
  check_node(node, "forget_cache");
  if (tree_) tree_->clear(node);
}

void policy::reset() {
  for (auto& s : stats_) {
    const bool up = s.available;
    s = node_stats{};
    s.available = up;
  }
  if (tree_) tree_->clear();
  keys_valid_ = false;
  for (auto& l : load_) l = 0;
  for (auto& d : depth_) d = 0;
  holders_.clear();
  do_reset();
}

}  // namespace planetserve::dispatch
