// SPDX-License-Identifier: MIT
// route::router_config: everything a router needs: the fleet, the policy, limits, retries, breaker, keys.
#pragma once

#include <planetserve/dispatch/policy.hpp>
#include <planetserve/dispatch/policy_config.hpp>
#include <planetserve/experiment/kv_event_subscriber.hpp>
#include <planetserve/sim/chat_template.hpp>
#include <planetserve/tokenize/tokenizer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace planetserve::route {

/// A router's settings. Durations are std::chrono; the CLI maps its flags onto these fields.
struct router_config {
  std::vector<std::string> endpoints;  ///< the nodes' base URLs (http:// or https://), node k = endpoints[k]
  std::string policy = "lb";           ///< a dispatch::make_policy name (with custom_policy: its name in messages)
  /// A policy of one's own: when set, the router decides with the policy this makes from
  /// `policy_config` (once, at create) instead of the built-in one named by `policy`.
  std::function<std::unique_ptr<dispatch::policy>(const dispatch::policy_config&)> custom_policy;
  dispatch::policy_config policy_config;  ///< the policy's settings; `nodes` is set from `endpoints`
  /// The tokenizer prompts are routed with; null: the approximate tokenizer seeded with
  /// policy_config.tree.seed (as `pswm run` does, so the two route alike).
  std::shared_ptr<const tokenize::tokenizer> tokenizer;
  /// The nodes' chat template. Set: a chat request is routed on the ids of the text this
  /// template renders from its messages, and a completions prompt on the tokenizer's BOS and
  /// the prompt: the ids the nodes compute (with `tokenizer` the nodes' own, or the emulator's
  /// default prompt tokenizer for this template when null). That is what `precise` needs to
  /// match the nodes' KV events, and what puts lb's blocks where the nodes' are. Unset: the
  /// messages' text in order, as `pswm run` routes against real servers without
  /// `--tokenizer server`.
  std::optional<sim::chat_template> chat_template;
  /// Where each node publishes its KV-cache events (one per node, in node order), for a
  /// policy that reads them (dispatch::kv_event_sink: `precise`). Empty: such a policy judges
  /// every node by lb's model (its rule precise-fallback), and the router says so at start.
  std::vector<experiment::kv_events_source> kv_events;
  /// Where problems found in the background are written (a node's KV-events stream lost or
  /// never synced: once per node); null: std::clog.
  std::ostream* log = nullptr;

  std::size_t max_body = 8u << 20;  ///< largest request body accepted (bytes); larger: 413
  /// Longest wait for a request's headers and body (and a kept-alive connection's next
  /// request): a slow-loris client is cut off after it.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};  ///< longest a write to a client may take

  /// The router's own key: clients must send "Authorization: Bearer <key>"; empty: no check,
  /// and the client's Authorization header is passed to the node. Never logged.
  std::string api_key;
  /// The key sent to the nodes instead of the client's ("Authorization: Bearer <key>");
  /// empty: the client's header is passed through (when api_key is empty) or none is sent.
  std::string upstream_api_key;

  unsigned max_retries = 2;  ///< sends of a request to another node after its connection failed before any byte reached the client
  std::chrono::duration<double> retry_backoff{0.005};  ///< wait before the first retry; doubled for each further one
  std::size_t breaker_failures = 3;  ///< consecutive connection failures that open a node's breaker (0: only /health opens it)
  std::chrono::milliseconds health_interval{std::chrono::seconds(1)};   ///< active /health checks of every node
  std::chrono::milliseconds metrics_interval{std::chrono::seconds(1)};  ///< /metrics scrapes feeding the policy's live load; 0: none
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};   ///< to a node
  std::chrono::milliseconds upstream_timeout{std::chrono::seconds(300)};  ///< longest silence from a node mid-response
  std::size_t max_connections_per_node = 4096;  ///< connections open at once to one node
  std::string ca_file;    ///< PEM CA certificates for https nodes
  bool insecure = false;  ///< skip certificate checks of https nodes
};

}  // namespace planetserve::route
