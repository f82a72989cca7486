// SPDX-License-Identifier: MIT
// route::router_metrics: the router's own counters and histograms, rendered as Prometheus text; sans-io.
#pragma once

#include <planetserve/route/breaker.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace planetserve::route {

/// A Prometheus histogram of seconds with fixed upper bounds.
class seconds_histogram {
 public:
  /// Upper bounds (seconds, ascending) for sub-millisecond latencies: 1 µs .. 1 s.
  static std::span<const double> default_bounds() noexcept;
  /// A histogram with `bounds` (ascending; +Inf is added).
  explicit seconds_histogram(std::span<const double> bounds = default_bounds());
  /// Counts one observation of `seconds`.
  void observe(double seconds) noexcept;
  /// Observations so far.
  std::uint64_t count() const noexcept { return count_; }
  /// Appends the family `name` (HELP `help`) to `out`.
  void render(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bound, not cumulative; the last is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

/// A node's KV-cache event stream, when the router follows one.
struct kv_events_gauges {
  std::uint64_t batches = 0;  ///< batches received (live and replayed)
  std::uint64_t gaps = 0;     ///< sequence gaps seen
  std::uint64_t lost = 0;     ///< times events were lost beyond replay (the node's index approximate)
  bool synced = false;        ///< the stream has been complete from sequence 0 at some point
};

/// What /metrics shows of one node now.
struct node_gauges {
  std::string_view name;   ///< "node_0"
  std::string_view url;    ///< its base URL
  std::uint64_t in_flight = 0;  ///< requests being forwarded to it
  breaker_state breaker = breaker_state::closed;  ///< its circuit breaker
  std::optional<kv_events_gauges> kv_events;       ///< its KV-events stream; none: not followed
};

/// The router's counters. Node 0..n-1 are the fleet's; requests answered by the router
/// itself (refused, no node) count under node "none".
class router_metrics {
 public:
  /// Metrics for `nodes` nodes.
  explicit router_metrics(std::size_t nodes);

  /// A request ended with HTTP `status` at `node` (or none: dispatch::no_node), chosen by
  /// `rule` (a string that outlives the metrics: a policy's rule name, or a literal).
  void on_request(std::uint32_t node, std::string_view rule, unsigned status);
  /// A policy decision (tokenizing included) took `seconds`.
  void on_decision(double seconds) noexcept { decision_.observe(seconds); }
  /// The router's own share of a request's time to first byte: request in → upstream sent,
  /// plus upstream's first byte in → written to the client.
  void on_added_latency(double seconds) noexcept { added_.observe(seconds); }
  /// A request was sent again to another node.
  void on_retry() noexcept { ++retries_; }
  /// `node`'s connection failed (counted whether or not the request was retried).
  void on_upstream_failure(std::uint32_t node) noexcept;
  /// The policy expected the chosen node to hold `tokens` of the prompt.
  void on_predicted_cached(std::uint64_t tokens, std::uint64_t prompt_tokens) noexcept;

  /// Retries so far.
  std::uint64_t retries() const noexcept { return retries_; }
  /// Requests counted with `status` (any node, any rule).
  std::uint64_t requests_with_status(unsigned status) const noexcept;
  /// Requests counted with the policy rule `rule` (any node, any status).
  std::uint64_t requests_with_rule(std::string_view rule) const noexcept;
  /// Prompt tokens the policy expected the chosen nodes to hold, summed over requests.
  std::uint64_t predicted_cached_tokens() const noexcept { return predicted_cached_; }

  /// The whole page (text format 0.0.4), with the nodes' gauges as given.
  std::string render(std::span<const node_gauges> nodes) const;

 private:
  std::size_t nodes_;
  std::map<std::tuple<std::uint32_t, std::string_view, unsigned>, std::uint64_t> requests_;
  std::vector<std::uint64_t> upstream_failures_;
  seconds_histogram decision_;
  seconds_histogram added_;
  std::uint64_t retries_ = 0;
  std::uint64_t predicted_cached_ = 0;
  std::uint64_t prompt_tokens_ = 0;
};

}  // namespace planetserve::route
