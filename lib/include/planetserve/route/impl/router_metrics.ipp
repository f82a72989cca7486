// SPDX-License-Identifier: MIT
// Compiled body of route::router_metrics.
#pragma once

#include <planetserve/detail/python_float.hpp>
#include <planetserve/dispatch/decision.hpp>
#include <planetserve/route/router_metrics.hpp>

#include <algorithm>
#include <array>

namespace planetserve::route {

namespace detail {

/// A label value in the text format: backslash, double quote and line feed escaped.
inline void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

inline void append_family_head(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

inline std::string node_label(std::uint32_t node) {
  return node == dispatch::no_node ? std::string("none") : "node_" + std::to_string(node);
}

}  // namespace detail

std::span<const double> seconds_histogram::default_bounds() noexcept {
  static constexpr std::array<double, 16> b{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4,
                                            5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 0.1, 1.0, 10.0};
  return b;
}

seconds_histogram::seconds_histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), counts_(bounds.size() + 1, 0) {}

void seconds_histogram::observe(double seconds) noexcept {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), seconds);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  sum_ += seconds;
  ++count_;
}

void seconds_histogram::render(std::string& out, std::string_view name, std::string_view help) const {
  detail::append_family_head(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name;
    out += "_bucket{le=\"";
    if (i < bounds_.size()) planetserve::detail::append_python_float(out, bounds_[i]);
    else out += "+Inf";
    out += "\"} ";
    out += std::to_string(cumulative);
    out += '\n';
  }
  out += name;
  out += "_sum ";
  planetserve::detail::append_python_float(out, sum_);
  out += '\n';
  out += name;
  out += "_count ";
  out += std::to_string(count_);
  out += '\n';
}

router_metrics::router_metrics(std::size_t nodes) : nodes_(nodes), upstream_failures_(nodes, 0) {}

void router_metrics::on_request(std::uint32_t node, std::string_view rule, unsigned status) {
  ++requests_[{node, rule, status}];
}

void router_metrics::on_upstream_failure(std::uint32_t node) noexcept {
  if (node < upstream_failures_.size()) ++upstream_failures_[node];
}

void router_metrics::on_predicted_cached(std::uint64_t tokens, std::uint64_t prompt_tokens) noexcept {
  predicted_cached_ += tokens;
  prompt_tokens_ += prompt_tokens;
}

std::uint64_t router_metrics::requests_with_rule(std::string_view rule) const noexcept {
  std::uint64_t n = 0;
  for (const auto& [key, count] : requests_)
    if (std::get<1>(key) == rule) n += count;
  return n;
}

std::uint64_t router_metrics::requests_with_status(unsigned status) const noexcept {
  std::uint64_t n = 0;
  for (const auto& [key, count] : requests_)
    if (std::get<2>(key) == status) n += count;
  return n;
}

std::string router_metrics::render(std::span<const node_gauges> nodes) const {
  std::string out;
  out.reserve(4096);
  detail::append_family_head(out, "pswm_route_requests_total", "counter",
                             "Requests answered, by serving node (none: answered by the router), policy rule and HTTP status.");
  for (const auto& [key, count] : requests_) {
    out += "pswm_route_requests_total{node=\"";
    detail::append_label_value(out, detail::node_label(std::get<0>(key)));
    out += "\",rule=\"";
    detail::append_label_value(out, std::get<1>(key));
    out += "\",status=\"";
    out += std::to_string(std::get<2>(key));
    out += "\"} ";
    out += std::to_string(count);
    out += '\n';
  }
  detail::append_family_head(out, "pswm_route_node_info", "gauge", "The fleet: one series per node naming its URL.");
  for (const auto& n : nodes) {
    out += "pswm_route_node_info{node=\"";
    detail::append_label_value(out, n.name);
    out += "\",url=\"";
    detail::append_label_value(out, n.url);
    out += "\"} 1\n";
  }
  // A family with one series per node: `value` gives a node's number, or nothing to skip it.
  const auto per_node = [&](const char* name, const char* type, const char* help, auto value) {
    detail::append_family_head(out, name, type, help);
    for (const auto& n : nodes) {
      const std::optional<std::uint64_t> v = value(n);
      if (!v) continue;
      out += name;
      out += "{node=\"";
      detail::append_label_value(out, n.name);
      out += "\"} ";
      out += std::to_string(*v);
      out += '\n';
    }
  };
  per_node("pswm_route_in_flight", "gauge", "Requests being forwarded to each node now.",
           [](const node_gauges& n) { return std::optional<std::uint64_t>(n.in_flight); });
  per_node("pswm_route_breaker_state", "gauge", "Each node's circuit breaker: 0 closed, 1 open, 2 half-open.",
           [](const node_gauges& n) { return std::optional<std::uint64_t>(static_cast<unsigned>(n.breaker)); });
  if (std::any_of(nodes.begin(), nodes.end(), [](const node_gauges& n) { return n.kv_events.has_value(); })) {
    const auto kv = [](auto field) {
      return [field](const node_gauges& n) {
        return n.kv_events ? std::optional<std::uint64_t>(field(*n.kv_events)) : std::nullopt;
      };
    };
    per_node("pswm_route_kv_event_batches_total", "counter", "KV-cache event batches received from each node, live and replayed.",
             kv([](const kv_events_gauges& g) { return g.batches; }));
    per_node("pswm_route_kv_event_gaps_total", "counter", "Sequence gaps seen in each node's KV-cache event stream.",
             kv([](const kv_events_gauges& g) { return g.gaps; }));
    per_node("pswm_route_kv_events_lost_total", "counter",
             "Times a node's KV-cache events were lost beyond replay (its index approximate until its cache is cleared).",
             kv([](const kv_events_gauges& g) { return g.lost; }));
    per_node("pswm_route_kv_events_synced", "gauge", "1 once a node's KV-cache event stream has been complete from sequence 0.",
             kv([](const kv_events_gauges& g) -> std::uint64_t { return g.synced ? 1 : 0; }));
  }
  detail::append_family_head(out, "pswm_route_upstream_failures_total", "counter",
                             "Connections to each node that failed or closed before a response.");
  for (std::size_t k = 0; k < nodes_; ++k) {
    out += "pswm_route_upstream_failures_total{node=\"node_";
    out += std::to_string(k);
    out += "\"} ";
    out += std::to_string(upstream_failures_[k]);
    out += '\n';
  }
  detail::append_family_head(out, "pswm_route_retries_total", "counter",
                             "Requests sent again to another node after a connection failed before any byte reached the client.");
  out += "pswm_route_retries_total " + std::to_string(retries_) + "\n";
  detail::append_family_head(out, "pswm_route_predicted_cached_tokens_total", "counter",
                             "Prompt tokens the policy expected the chosen node to hold in its prefix cache.");
  out += "pswm_route_predicted_cached_tokens_total " + std::to_string(predicted_cached_) + "\n";
  detail::append_family_head(out, "pswm_route_routed_prompt_tokens_total", "counter",
                             "Prompt tokens of the routed requests, as the router's tokenizer counts them.");
  out += "pswm_route_routed_prompt_tokens_total " + std::to_string(prompt_tokens_) + "\n";
  decision_.render(out, "pswm_route_decision_seconds", "Time to tokenize the prompt and choose a node.");
  added_.render(out, "pswm_route_added_latency_seconds",
                "The router's share of the time to first byte: request in to upstream sent, plus upstream first byte to client.");
  return out;
}

}  // namespace planetserve::route
