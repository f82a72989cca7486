// SPDX-License-Identifier: MIT
// sim::node_server: one emulated vLLM node (OpenAI API, /metrics, faults) on an executor.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/http/server.hpp>
#include <planetserve/sim/chat_template.hpp>
#include <planetserve/sim/engine.hpp>
#include <planetserve/sim/fault_injection.hpp>
#include <planetserve/sim/kv_event_publisher.hpp>
#include <planetserve/sim/metrics_writer.hpp>
#include <planetserve/sim/profile.hpp>
#include <planetserve/sim/vllm_version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace planetserve::sim {

namespace detail {
struct node_state;
}

/// When a streamed generation request was received and when its first token was written,
/// on the steady clock (CLOCK_MONOTONIC on Linux, so comparable across processes).
struct request_timing {
  std::uint16_t port = 0;            ///< the node's bound port
  std::uint64_t prompt_hash = 0;     ///< XXH3-64 of the prompt text (chat: the last message's content)
  std::chrono::steady_clock::time_point received{};     ///< the handler got the parsed request
  std::chrono::steady_clock::time_point first_token{};  ///< the first chunk with content was handed to the socket
};

/// Everything one emulated node needs. from_profile() gives vLLM's defaults for a profile.
struct node_config {
  engine_config engine;                       ///< scheduler, KV cache, step costs, seed
  std::string served_model_name = "meta-llama/Llama-3.1-8B-Instruct";  ///< --served-model-name: the only model accepted
  std::string api_key;                        ///< --api-key; empty: no authentication
  metric_names metrics_names = metric_names::v1;  ///< --metrics-names
  fault_config faults;                        ///< injected faults (off by default)
  /// --vllm-version: what GET /version reports, the engine's prefix-cache counting (it
  /// replaces engine.counting) and the metric families /metrics shows. The metric names
  /// stay `metrics_names`'s (cmd_sim picks `both` for 0.10.x unless --metrics-names says).
  vllm_version vllm = default_vllm_version();
  bool enable_prompt_tokens_details = false;  ///< --enable-prompt-tokens-details: usage carries prompt_tokens_details.cached_tokens
  kv_events_config kv_events;                 ///< --kv-events-endpoint: publish KV-cache events (empty endpoint: off)
  double gpu_memory_utilization = 0.9;        ///< shown in vllm:cache_config_info
  std::optional<std::size_t> num_gpu_blocks_override;  ///< shown in vllm:cache_config_info
  std::string engine_index = "0";             ///< the `engine` label of the V1 metrics
  http::server_config http;                   ///< HTTP limits and timeouts
  /// Prompt tokenizer (`pswm sim --tokenizer`: a tokenizer.json); null: the approximate
  /// tokenizer with the chat template's special tokens (sim::default_prompt_tokenizer(chat)).
  std::shared_ptr<const tokenize::tokenizer> tokenizer;
  /// How chat requests become prompts (`pswm sim --tokenizer-config`: a tokenizer_config.json's
  /// chat_template); its special tokens join the approximate tokenizer when `tokenizer` is null.
  chat_template chat = chat_template::llama3_1();
  std::function<void(const request_timing&)> on_timing;  ///< opt-in (driver timing checks): called once per streamed request that wrote a token

  /// vLLM's defaults for profile `p` (engine limits, KV blocks, costs, model name).
  static node_config from_profile(const profile& p);
  /// The engine settings the node runs with: `engine`, counting prefix-cache lookups as
  /// the emulated vLLM version does, keeping KV-cache events when `kv_events` names a
  /// publisher (or `engine` already asks for them).
  engine_config effective_engine() const;
  /// How the node writes its /metrics page (created_unix_s is left to the caller's clock).
  metrics_page_config metrics_page() const;
};

/// Counters of the HTTP front, for tests and reports.
struct node_server_stats {
  std::uint64_t generation_requests = 0;  ///< POST /v1/completions and /v1/chat/completions received
  std::uint64_t completed = 0;            ///< generation responses completed (streams ended with [DONE])
  std::uint64_t rejected = 0;             ///< answered with a 4xx (auth, validation, unknown model)
  std::uint64_t injected_errors = 0;      ///< answered with an injected error status
  std::uint64_t injected_resets = 0;      ///< connections dropped unanswered by an injected fault
  std::uint64_t injected_closes = 0;      ///< streams cut by fault injection
  std::uint64_t client_aborts = 0;        ///< clients that left before the end (request aborted in the engine)
};

/// One vLLM node: an http::server with vLLM's routes in front of a sim::engine driven by
/// one steady_timer. Tokens are written to each stream when the engine step that produced
/// them ends. Everything runs on the executor given at construction (one thread, no locks).
///
/// Routes: POST /v1/completions, POST /v1/chat/completions (streaming or not), GET
/// /v1/models, GET /health, GET /version, POST /tokenize, POST /detokenize, GET /metrics,
/// POST /reset_prefix_cache.
class node_server {
 public:
  /// Throws std::invalid_argument when the engine config fails engine::validate or the
  /// fault config is out of range.
  node_server(boost::asio::any_io_executor ex, node_config config);
  ~node_server();
  node_server(const node_server&) = delete;
  node_server& operator=(const node_server&) = delete;

  /// Binds `host:port` (0: ephemeral) and starts serving; the engine clock and the
  /// unhealthy window start now. Returns the bound port.
  result<std::uint16_t> listen(std::string_view host, std::uint16_t port, diagnostics& diag);

  /// The bound port (0 before listen()).
  std::uint16_t port() const noexcept;

  /// The KV-events PUB endpoint as bound (wildcard port resolved), or empty when off.
  std::string kv_events_endpoint() const;
  /// The KV-events replay endpoint as bound, or empty.
  std::string kv_events_replay_endpoint() const;
  /// The KV-events publisher (null when off), for fault injection in tests.
  kv_event_publisher* kv_events_publisher() noexcept;

  /// Stops accepting, lets in-flight requests run for up to `grace`, then cuts the rest
  /// (their engine requests are aborted) and stops the engine timer.
  boost::asio::awaitable<void> async_shutdown(std::chrono::milliseconds grace);

  /// Stops at once: no more connections, open ones closed, engine timer stopped.
  void stop() noexcept;

  /// The engine (its counters are what /metrics shows).
  const sim::engine& engine() const noexcept;
  /// The settings it was made with.
  const node_config& config() const noexcept;
  /// Counters of the HTTP front.
  const node_server_stats& stats() const noexcept;
  /// The HTTP server's counters.
  const http::server_stats& http_stats() const noexcept;

 private:
  std::shared_ptr<detail::node_state> state_;
};

}  // namespace planetserve::sim
