// SPDX-License-Identifier: MIT
// route::router: a live OpenAI-compatible router in front of a fleet, deciding with any dispatch::policy.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/route/breaker.hpp>
#include <planetserve/route/router_config.hpp>
#include <planetserve/route/router_metrics.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::dispatch {
class policy;
}
namespace planetserve::experiment {
struct kv_subscription_stats;
}

namespace planetserve::route {

/// The response header naming the node that served a request ("node_2").
inline constexpr std::string_view served_by_header = "x-pswm-node";

/// An OpenAI-compatible router: POST /v1/chat/completions and /v1/completions are routed by
/// the policy and passed through as their bytes arrive (streaming or not); GET /v1/models
/// answers the fleet's models; POST /tokenize goes to any healthy node; GET /health is 200
/// while some node is healthy; GET /metrics is the router's own page (router_metrics).
///
/// Keeps the policy's inputs current: in-flight counts (on_dispatched/on_finished), each
/// node's live load from its /metrics, availability from active /health checks and a
/// per-node breaker. A request whose connection fails before any byte reached the client is
/// sent to another node (bounded, with backoff). A client that disconnects cancels its
/// upstream request. Runs on one executor (one thread, no locks).
class router {
 public:
  /// A router for `config`. Fails with bad_url (an endpoint), invalid_argument (unknown
  /// policy or a bad policy setting) or tls_failed (ca_file), `diag` naming which.
  static result<std::unique_ptr<router>> create(boost::asio::any_io_executor ex, router_config config,
                                                diagnostics& diag);
  ~router();
  router(const router&) = delete;
  router& operator=(const router&) = delete;

  /// Asks every node for /v1/models and starts the health checks and load scrapes. Fails
  /// (model_not_served, diag naming the nodes) when the nodes that answer serve different
  /// models, or (connection_failed) when none answers; nodes that do not answer start with
  /// their breaker open.
  boost::asio::awaitable<boost::system::error_code> async_start(diagnostics& diag);

  /// Binds `host:port` (0: ephemeral) and starts serving. Returns the bound port.
  result<std::uint16_t> listen(std::string_view host, std::uint16_t port, diagnostics& diag);
  /// The bound port (0 before listen()).
  std::uint16_t port() const noexcept;

  /// Graceful drain: stops accepting, lets requests in flight finish for up to `grace`, cuts
  /// the rest, stops the background checks and closes the node connections.
  boost::asio::awaitable<void> async_shutdown(std::chrono::milliseconds grace);

  /// The models the fleet serves (after async_start).
  const std::vector<std::string>& models() const noexcept;
  /// Number of nodes.
  std::size_t nodes() const noexcept;
  /// Node `k`'s breaker.
  breaker_state node_breaker(std::size_t k) const;
  /// Requests being forwarded to node `k` now.
  std::uint64_t in_flight(std::size_t k) const;
  /// The router's counters.
  const router_metrics& metrics() const noexcept;
  /// The /metrics page now.
  std::string metrics_page() const;
  /// The policy deciding (to read its statistics).
  const dispatch::policy& policy() const noexcept;
  /// Node `k`'s KV-events subscription counters (batches, gaps, synced...); null when the
  /// router follows no KV events (a policy that reads none, or no endpoints given).
  const experiment::kv_subscription_stats* kv_events_stats(std::size_t k) const;

 private:
  struct state;
  explicit router(std::shared_ptr<state> s) noexcept : state_(std::move(s)) {}
  std::shared_ptr<state> state_;
};

}  // namespace planetserve::route
