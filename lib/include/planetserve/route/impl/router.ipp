// SPDX-License-Identifier: MIT
// Compiled body of route::router.
#pragma once

#include <planetserve/detail/sanitize.hpp>
#include <planetserve/dispatch/kv_event_sink.hpp>
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/experiment/metrics_page.hpp>
#include <planetserve/http/client.hpp>
#include <planetserve/http/failure.hpp>
#include <planetserve/http/server.hpp>
#include <planetserve/openai/error_body.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/openai/server_info.hpp>
#include <planetserve/route/request_inspection.hpp>
#include <planetserve/route/router.hpp>
#include <planetserve/tokenize/approx_tokenizer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <iostream>
#include <optional>
#include <stdexcept>

namespace planetserve::route {

namespace rasio = boost::asio;
using rclock = std::chrono::steady_clock;

struct router::state : std::enable_shared_from_this<router::state> {
  struct node {
    std::string name;
    std::string url;
    std::optional<http::client> requests;  // generation requests: big pool, long timeouts
    std::optional<http::client> probe;     // /health, /metrics, /v1/models, /tokenize: short timeouts
    route::breaker breaker;
    bool suspect = false;     // a connection failed: out of choices while one /health check runs
    std::uint64_t in_flight = 0;
  };

  state(rasio::any_io_executor e, router_config c)
      : ex(std::move(e)), cfg(std::move(c)), server(ex, make_server_config()), metrics(cfg.endpoints.size()) {}

  http::server_config make_server_config() const {
    http::server_config sc;
    sc.max_body_size = cfg.max_body;
    sc.read_timeout = cfg.header_timeout;
    sc.write_timeout = cfg.write_timeout;
    sc.refusal_body = [](unsigned status, std::string_view message) { return openai::error_body(status, message); };
    return sc;
  }

  rasio::any_io_executor ex;
  router_config cfg;
  http::server server;
  router_metrics metrics;
  std::vector<node> nodes;
  std::unique_ptr<dispatch::policy> policy;
  std::optional<tokenize::approx_tokenizer> approx;
  std::shared_ptr<const tokenize::tokenizer> template_tok;  // the emulator's prompt tokenizer for cfg.chat_template
  const tokenize::tokenizer* tok = nullptr;
  std::unique_ptr<experiment::kv_event_subscriber> kv_events;  // while a kv_event_sink policy routes
  std::vector<std::string> models;
  std::string upstream_auth;  // "Bearer <upstream key>", or empty
  std::string expected_auth;  // "Bearer <router key>", or empty
  rclock::time_point t0 = rclock::now();
  std::uint64_t next_id = 0;
  std::size_t next_tokenize = 0;
  bool stopping = false;
  std::vector<rasio::steady_timer*> sleepers;  // background loops' timers, woken at shutdown
  std::size_t background = 0;                   // background loops still running

  // ---- availability ------------------------------------------------------------------

  void sync_available(std::size_t k) {
    policy->set_available(static_cast<dispatch::node_index>(k), nodes[k].breaker.allows() && !nodes[k].suspect);
  }

  bool any_available() const {
    return std::any_of(nodes.begin(), nodes.end(), [](const node& n) { return n.breaker.allows() && !n.suspect; });
  }

  std::string nodes_out_text() const {
    std::string t;
    for (const auto& n : nodes) {
      if (!t.empty()) t += ", ";
      t += n.name + " " + (n.suspect ? std::string("checking /health") : std::string(to_string(n.breaker.state())));
    }
    return t;
  }

  /// One GET /health of node `k`; true when it answered 200.
  rasio::awaitable<bool> async_health(std::size_t k) {
    diagnostics d;
    const auto req = http::client_request::get("/health");
    auto r = co_await nodes[k].probe->async_fetch(req, d);
    co_return r && r->status == 200;
  }

  /// After a connection failure at `k`: the breaker counts it; below its threshold the node
  /// is out of choices only while one /health check runs (as the runner does).
  void on_connection_failure(std::size_t k) {
    auto& nd = nodes[k];
    metrics.on_upstream_failure(static_cast<std::uint32_t>(k));
    if (nd.breaker.on_failure() || !nd.breaker.allows() || nd.suspect || stopping) {
      sync_available(k);
      return;
    }
    nd.suspect = true;
    sync_available(k);
    rasio::co_spawn(ex, check_suspect(shared_from_this(), k), rasio::detached);
  }

  static rasio::awaitable<void> check_suspect(std::shared_ptr<state> self, std::size_t k) {
    const bool ok = co_await self->async_health(k);
    auto& nd = self->nodes[k];
    nd.suspect = false;
    if (!ok) nd.breaker.on_health_failure();
    self->sync_available(k);
  }

  /// Sleeps `d` unless the router stops first; false when it stopped.
  rasio::awaitable<bool> sleep(rasio::steady_timer& t, rclock::duration d) {
    t.expires_after(d);
    co_await t.async_wait(rasio::as_tuple(rasio::use_awaitable));
    co_return !stopping;
  }

  /// Active health checks of node `k`: a failure opens its breaker; a 200 half-opens an open one.
  static rasio::awaitable<void> health_loop(std::shared_ptr<state> self, std::size_t k) {
    rasio::steady_timer timer(self->ex);
    self->sleepers.push_back(&timer);
    while (co_await self->sleep(timer, self->cfg.health_interval)) {
      const bool ok = co_await self->async_health(k);
      if (self->stopping) break;
      auto& b = self->nodes[k].breaker;
      if (ok) b.on_health_success();
      else b.on_health_failure();
      self->sync_available(k);
    }
    std::erase(self->sleepers, &timer);
    --self->background;
  }

  /// Node `k`'s /metrics, every metrics_interval, into the policy's live load.
  static rasio::awaitable<void> load_loop(std::shared_ptr<state> self, std::size_t k) {
    rasio::steady_timer timer(self->ex);
    self->sleepers.push_back(&timer);
    const auto period = std::chrono::duration_cast<rclock::duration>(self->cfg.metrics_interval);
    // Offset by k/n of a period so the fleet's pages do not arrive in one burst.
    auto first = (period * static_cast<rclock::rep>(k)) / static_cast<rclock::rep>(self->nodes.size());
    bool go = co_await self->sleep(timer, first);
    while (go) {
      diagnostics d;
      const auto req = http::client_request::get("/metrics");
      auto page = co_await self->nodes[k].probe->async_fetch(req, d);
      if (self->stopping) break;
      if (page && page->status == 200) {
        diagnostics pd;
        auto snap = co_await experiment::async_parse_vllm_page(self->ex, page->body, pd);
        if (snap && snap->has_vllm())
          self->policy->on_load(static_cast<dispatch::node_index>(k),
                                dispatch::live_load{snap->num_running, snap->num_waiting, snap->kv_cache_usage});
      }
      go = co_await self->sleep(timer, period);
    }
    std::erase(self->sleepers, &timer);
    --self->background;
  }

  // ---- answering ---------------------------------------------------------------------

  static rasio::awaitable<void> write_error(http::server_response& res, unsigned status, std::string message,
                                            std::string param = {}) {
    const std::string body = openai::error_body(status, message, param);
    co_await res.async_write_whole(status, "application/json", body);
  }

  /// Checks the router's key; answers 401 as vLLM does when it is wrong.
  rasio::awaitable<bool> authorized(http::server_request& req, http::server_response& res) {
    if (expected_auth.empty()) co_return true;
    if (req.header("authorization") == expected_auth) co_return true;
    metrics.on_request(dispatch::no_node, "unauthorized", 401);
    static constexpr std::string_view body = "{\"error\":\"Unauthorized\"}";
    co_await res.async_write_whole(401, "application/json", body);
    co_return false;
  }

  /// The Authorization header for a node: the upstream key, else the client's (when the
  /// router checks no key of its own).
  std::string_view upstream_authorization(const http::server_request& req) const {
    if (!upstream_auth.empty()) return upstream_auth;
    if (expected_auth.empty()) return req.header("authorization");
    return {};
  }

  rasio::awaitable<void> handle_generation(endpoint ep, http::server_request& req, http::server_response& res) {
    auto keep = shared_from_this();
    const auto t_in = rclock::now();
    if (!co_await authorized(req, res)) co_return;
    inspected_request ir;
    if (auto problem = inspect_request(ep, req.body(), ir)) {
      metrics.on_request(dispatch::no_node, "bad-request", problem->status);
      co_await write_error(res, problem->status, std::move(problem->message), std::move(problem->param));
      co_return;
    }
    if (!ir.model.empty() && std::find(models.begin(), models.end(), ir.model) == models.end()) {
      metrics.on_request(dispatch::no_node, "unknown-model", 404);
      co_await write_error(res, 404, "The model `" + planetserve::detail::sanitized(ir.model, 200) + "` does not exist.", "model");
      co_return;
    }
    std::vector<tokenize::token_id> tokens;
    routing_tokens(ep, ir, tokens);
    const dispatch::request_view view{tokens, next_id++, ir.session};

    std::array<http::header_field, 1> auth_header{};
    std::span<const http::header_field> headers;
    if (auto a = upstream_authorization(req); !a.empty()) {
      auth_header[0] = {"Authorization", a};
      headers = auth_header;
    }
    const auto path = req.path();
    const auto creq = http::client_request::post(path, "application/json", req.body(), headers);

    // What the client's departure ends at once, whenever it comes: the open (a wait for a
    // connection, the connect, the send, the wait for the node's head), the response being
    // read, or the backoff before a retry.
    http::open_canceller opening;
    std::optional<http::response_reader> reader;
    rasio::steady_timer backoff(ex);
    res.on_client_gone([&opening, &reader, &backoff] {
      opening.cancel();
      if (reader) reader->cancel();
      backoff.cancel();
    });

    for (unsigned attempt = 0;; ++attempt) {
      const auto t_decide = rclock::now();
      const auto d = policy->choose(view, dispatch::fleet_view{t_decide - t0});
      metrics.on_decision(std::chrono::duration<double>(rclock::now() - (attempt == 0 ? t_in : t_decide)).count());
      if (!d.has_node()) {
        metrics.on_request(dispatch::no_node, "no-node", 503);
        co_await write_error(res, 503, "no healthy node to route to (" + nodes_out_text() +
                                           "); retry later, or check the nodes' /health");
        co_return;
      }
      const auto k = d.node;
      const std::string_view rule = dispatch::rule_name(d);
      if (auto cached = policy->predicted_cached_tokens(d, tokens.size())) metrics.on_predicted_cached(*cached, tokens.size());
      policy->on_dispatched(k, view);
      auto& nd = nodes[k];
      ++nd.in_flight;
      diagnostics diag;
      auto opened = co_await nd.requests->async_open(creq, diag, &opening);
      unsigned status = 0;
      boost::system::error_code failure;
      bool wrote = false;
      std::optional<http::body_piece> first;
      if (!opened) {
        failure = opened.error();
      } else {
        reader.emplace(std::move(*opened));
        status = reader->status();
        if (!res.client_gone()) {
          // The first body bytes are read before anything reaches the client: until then a
          // node that drops the connection leaves the request free to go elsewhere.
          auto piece = co_await reader->async_read_some(diag);
          if (piece) first = *piece;
          else failure = piece.error();
        }
      }
      if (res.client_gone()) {
        // The client left before any byte went back: nothing to answer, and nothing the
        // node did wrong (its breaker is not told).
        if (reader) reader->cancel();
        reader.reset();
        --nd.in_flight;
        policy->on_finished(k, dispatch::outcome{.ok = false, .request_id = view.id});
        metrics.on_request(k, rule, 499);
        co_return;
      }
      if (failure && !first && http::retryable_failure(0, failure, false)) {
        --nd.in_flight;
        policy->on_finished(k, dispatch::outcome{.ok = false, .request_id = view.id});
        on_connection_failure(k);
        reader.reset();
        if (attempt < cfg.max_retries && !res.client_gone() && !stopping) {
          metrics.on_retry();
          backoff.expires_after(http::retry_delay(cfg.retry_backoff, attempt + 1));
          co_await backoff.async_wait(rasio::as_tuple(rasio::use_awaitable));
          if (res.client_gone()) {
            metrics.on_request(dispatch::no_node, "client-gone", 499);
            co_return;
          }
          continue;
        }
        metrics.on_request(k, rule, 502);
        co_await write_error(res, 502, nd.name + " (" + nd.url + ") failed before answering: " +
                                           planetserve::detail::sanitized(diag.empty() ? failure.message() : diag.message, 400));
        co_return;
      }
      // The node answered (or timed out mid-way, which says nothing certain about it).
      if (status != 0 && nd.breaker.state() != breaker_state::closed) {
        nd.breaker.on_success();
        sync_available(k);
      } else if (status != 0) {
        nd.breaker.on_success();
      }
      res.set_header(served_by_header, nd.name);
      unsigned answered = status;
      bool ok = false;
      if (!failure && first && !res.client_gone()) {
        const bool streamed = reader->content_type().starts_with("text/event-stream");
        if (!streamed || reader->done()) {
          // A whole response: collected, then sent with its length.
          std::string body(first->bytes);
          boost::system::error_code ec;
          if (!reader->done()) ec = co_await reader->async_read_rest(body, diag);
          if (!ec) {
            const std::string ct(reader->content_type());
            const auto first_in = first->arrived;
            ec = co_await res.async_write_whole(status, ct, body);
            if (status < 400) record_added(t_in, reader->sent(), first_in);
            ok = !ec;
            wrote = true;
          } else {
            failure = ec;
          }
        } else {
          const std::string ct(reader->content_type());
          const auto first_in = first->arrived;
          auto ec = co_await res.async_begin_stream(status, ct, first->bytes);
          wrote = true;
          record_added(t_in, reader->sent(), first_in);
          bool ended = false;
          while (!ec) {
            auto piece = co_await reader->async_read_some(diag);
            if (!piece) {
              failure = piece.error();
              break;
            }
            if (piece->bytes.empty() && reader->done()) break;
            if (reader->done()) {
              // The stream's last bytes and its end in one write (one syscall fewer).
              ec = co_await res.async_end_stream(piece->bytes);
              ended = true;
              break;
            }
            ec = co_await res.async_write_chunk(piece->bytes);
          }
          if (failure && !res.client_gone()) {
            // Bytes are out: the stream cannot move to another node. Say what happened in
            // the stream, as vLLM reports errors after a stream has started.
            const std::string event = "data: " + openai::error_body(502, nd.name + " (" + nd.url + ") failed mid-stream: " +
                                                                        planetserve::detail::sanitized(diag.message, 400)) + "\n\n";
            ec = co_await res.async_write_chunk(event);
          }
          if (!ec && !ended) ec = co_await res.async_end_stream();
          ok = !ec && !failure;
        }
      }
      if (failure) {
        if (http::node_unreachable(0, failure) && !res.client_gone()) on_connection_failure(k);
        if (!wrote && !res.client_gone()) {
          answered = 502;
          co_await write_error(res, 502, nd.name + " (" + nd.url + ") failed: " +
                                             planetserve::detail::sanitized(diag.empty() ? failure.message() : diag.message, 400));
        }
      }
      if (res.client_gone() && reader) reader->cancel();
      reader.reset();
      --nd.in_flight;
      dispatch::outcome out;
      out.e2e = std::chrono::duration_cast<std::chrono::nanoseconds>(rclock::now() - t_in);
      out.ok = ok && status < 400;
      out.request_id = view.id;
      out.routed_tokens = static_cast<std::uint32_t>(std::min<std::size_t>(tokens.size(), UINT32_MAX));
      policy->on_finished(k, out);
      metrics.on_request(k, rule, res.client_gone() && !ok ? 499 : answered);
      co_return;
    }
  }

  /// The ids a request is routed on: token-id prompts as they are; with the nodes' chat
  /// template, what the nodes compute (the rendered chat, or BOS and the prompt); else the text.
  void routing_tokens(endpoint ep, const inspected_request& ir, std::vector<tokenize::token_id>& out) const {
    if (!ir.prompt_ids.empty()) {
      out.assign(ir.prompt_ids.begin(), ir.prompt_ids.end());
    } else if (!cfg.chat_template) {
      tok->encode(ir.prompt, out);
    } else {
      sim::encode_node_prompt(*cfg.chat_template, *tok, ep == endpoint::chat_completions, ir.messages, ir.prompt, out);
    }
  }

  /// Subscribes a kv_event_sink policy to the nodes' KV events; says in `diag` when it cannot.
  void start_kv_events(diagnostics& diag) {
    auto* sink = dynamic_cast<dispatch::kv_event_sink*>(policy.get());
    if (!sink) return;
    if (cfg.kv_events.empty()) {
      if (!diag.message.empty()) diag.message += "\n";
      diag.message += "policy " + std::string(policy->name()) +
                      " reads the nodes' KV-cache events, and no endpoints were given (--kv-events-endpoints): every "
                      "node is judged by lb's model (rule precise-fallback)";
      return;
    }
    std::vector<std::string> names;
    for (const auto& n : nodes) names.push_back(n.name);
    kv_events = std::make_unique<experiment::kv_event_subscriber>(ex, cfg.kv_events, *sink, std::move(names),
                                                                  cfg.log ? *cfg.log : std::clog);
    kv_events->start();
  }

  void record_added(rclock::time_point t_in, rclock::time_point upstream_sent, rclock::time_point first_in) {
    const auto now = rclock::now();
    const auto before = upstream_sent > t_in ? upstream_sent - t_in : rclock::duration{};
    const auto after = now > first_in ? now - first_in : rclock::duration{};
    metrics.on_added_latency(std::chrono::duration<double>(before + after).count());
  }

  rasio::awaitable<void> handle_models(http::server_request& req, http::server_response& res) {
    auto keep = shared_from_this();
    if (!co_await authorized(req, res)) co_return;
    std::string body = "{\"object\":\"list\",\"data\":[";
    for (std::size_t i = 0; i < models.size(); ++i) {
      if (i) body += ',';
      body += "{\"id\":";
      openai::append_json_string(body, models[i]);
      body += ",\"object\":\"model\",\"owned_by\":\"vllm\",\"root\":";
      openai::append_json_string(body, models[i]);
      body += '}';
    }
    body += "]}";
    metrics.on_request(dispatch::no_node, "models", 200);
    co_await res.async_write_whole(200, "application/json", body);
  }

  rasio::awaitable<void> handle_health(http::server_request&, http::server_response& res) {
    auto keep = shared_from_this();
    if (any_available() && !stopping) {
      co_await res.async_write_whole(200, "", "");
    } else {
      co_await write_error(res, 503, "no healthy node (" + nodes_out_text() + ")");
    }
  }

  rasio::awaitable<void> handle_metrics(http::server_request&, http::server_response& res) {
    auto keep = shared_from_this();
    const std::string page = render();
    co_await res.async_write_whole(200, "text/plain; version=0.0.4; charset=utf-8", page);
  }

  /// POST /tokenize: forwarded whole to the next healthy node in turn.
  rasio::awaitable<void> handle_tokenize(http::server_request& req, http::server_response& res) {
    auto keep = shared_from_this();
    if (!co_await authorized(req, res)) co_return;
    for (std::size_t tries = 0; tries < nodes.size(); ++tries) {
      const std::size_t k = next_tokenize++ % nodes.size();
      auto& nd = nodes[k];
      if (!nd.breaker.allows() || nd.suspect) continue;
      std::array<http::header_field, 1> auth_header{};
      std::span<const http::header_field> headers;
      if (auto a = upstream_authorization(req); !a.empty()) {
        auth_header[0] = {"Authorization", a};
        headers = auth_header;
      }
      const auto creq = http::client_request::post("/tokenize", "application/json", req.body(), headers);
      diagnostics d;
      auto r = co_await nd.probe->async_fetch(creq, d);
      if (!r) {
        on_connection_failure(k);
        continue;
      }
      res.set_header(served_by_header, nd.name);
      co_await res.async_write_whole(r->status, r->content_type, r->body);
      co_return;
    }
    co_await write_error(res, 503, "no healthy node to tokenize with (" + nodes_out_text() + ")");
  }

  std::string render() const {
    std::vector<node_gauges> g;
    g.reserve(nodes.size());
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      const auto& n = nodes[k];
      g.push_back({n.name, n.url, n.in_flight, n.breaker.state(), std::nullopt});
      if (kv_events) {
        const auto& st = kv_events->stats(k);
        g.back().kv_events = kv_events_gauges{st.batches, st.gaps, st.lost, st.synced};
      }
    }
    return metrics.render(g);
  }
};

result<std::unique_ptr<router>> router::create(rasio::any_io_executor ex, router_config config, diagnostics& diag) {
  if (config.endpoints.empty()) {
    diag.message = "no endpoints: give the nodes' base URLs";
    return make_error_code(error::bad_url);
  }
  auto s = std::make_shared<state>(ex, std::move(config));
  auto& cfg = s->cfg;
  cfg.policy_config.nodes = cfg.endpoints.size();
  auto build_policy = [&cfg] {
    return cfg.custom_policy ? cfg.custom_policy(cfg.policy_config) : dispatch::make_policy(cfg.policy, cfg.policy_config);
  };
  try {
    s->policy = build_policy();
  } catch (const std::invalid_argument& e) {
    diag.message = "policy '" + cfg.policy + "': " + e.what();
    return make_error_code(error::invalid_argument);
  }
  if (!s->policy && cfg.custom_policy) {
    diag.message = "policy '" + cfg.policy + "': the custom policy factory made no policy";
    return make_error_code(error::invalid_argument);
  }
  if (!s->policy) {
    diag.message = "unknown policy '" + cfg.policy + "'; known: " + dispatch::known_policy_names();
    return make_error_code(error::invalid_argument);
  }
  if (!cfg.kv_events.empty() && cfg.kv_events.size() != cfg.endpoints.size()) {
    diag.message = std::to_string(cfg.kv_events.size()) + " KV-events endpoint(s) for " + std::to_string(cfg.endpoints.size()) +
                   " node(s): give one per node, in node order";
    return make_error_code(error::invalid_argument);
  }
  if (cfg.tokenizer) {
    s->tok = cfg.tokenizer.get();
  } else if (cfg.chat_template) {
    s->template_tok = sim::default_prompt_tokenizer(*cfg.chat_template);
    s->tok = s->template_tok.get();
  } else {
    s->approx.emplace(tokenize::approx_tokenizer_config{.seed = cfg.policy_config.tree.seed});
    s->tok = &*s->approx;
  }
  if (cfg.policy_config.lb.compat == dispatch::lb_compat::seed && cfg.policy_config.lb.seed_baseline_tokens.empty()) {
    s->tok->encode(dispatch::seed_baseline_text, cfg.policy_config.lb.seed_baseline_tokens);
    s->policy = build_policy();
  }
  for (std::size_t k = 0; k < cfg.endpoints.size(); ++k) {
    state::node nd;
    nd.name = "node_" + std::to_string(k);
    nd.url = cfg.endpoints[k];
    nd.breaker = breaker(cfg.breaker_failures);
    http::client_config cc;
    cc.max_connections = cfg.max_connections_per_node;
    cc.connect_timeout = cfg.connect_timeout;
    cc.read_timeout = cfg.upstream_timeout;
    cc.ca_file = cfg.ca_file;
    cc.insecure = cfg.insecure;
    cc.user_agent.clear();
    auto c = http::client::create(ex, nd.url, cc, diag);
    if (!c) {
      diag.message = nd.name + " (" + nd.url + "): " + diag.message;
      return c.error();
    }
    nd.requests = std::move(*c);
    http::client_config pc = cc;
    pc.max_connections = 8;
    pc.read_timeout = std::max(cfg.connect_timeout, std::chrono::milliseconds(2000));
    pc.total_timeout = std::max(cfg.connect_timeout, std::chrono::milliseconds(5000));
    auto p = http::client::create(ex, nd.url, pc, diag);
    if (!p) return p.error();
    nd.probe = std::move(*p);
    s->nodes.push_back(std::move(nd));
  }
  if (!cfg.api_key.empty()) s->expected_auth = "Bearer " + cfg.api_key;
  if (!cfg.upstream_api_key.empty()) s->upstream_auth = "Bearer " + cfg.upstream_api_key;

  using verb = boost::beast::http::verb;
  std::weak_ptr<state> w = s;
  auto gen = [w](endpoint ep) {
    return [w, ep](http::server_request& req, http::server_response& res) -> rasio::awaitable<void> {
      if (auto st = w.lock()) co_await st->handle_generation(ep, req, res);
    };
  };
  s->server.route(verb::post, "/v1/chat/completions", gen(endpoint::chat_completions));
  s->server.route(verb::post, "/v1/completions", gen(endpoint::completions));
  s->server.route(verb::get, "/v1/models", [w](http::server_request& req, http::server_response& res) -> rasio::awaitable<void> {
    if (auto st = w.lock()) co_await st->handle_models(req, res);
  });
  s->server.route(verb::get, "/health", [w](http::server_request& req, http::server_response& res) -> rasio::awaitable<void> {
    if (auto st = w.lock()) co_await st->handle_health(req, res);
  });
  s->server.route(verb::get, "/metrics", [w](http::server_request& req, http::server_response& res) -> rasio::awaitable<void> {
    if (auto st = w.lock()) co_await st->handle_metrics(req, res);
  });
  s->server.route(verb::post, "/tokenize", [w](http::server_request& req, http::server_response& res) -> rasio::awaitable<void> {
    if (auto st = w.lock()) co_await st->handle_tokenize(req, res);
  });
  return std::unique_ptr<router>(new router(std::move(s)));
}

router::~router() {
  if (!state_) return;
  state_->stopping = true;
  if (state_->kv_events) state_->kv_events->stop();
  for (auto* t : state_->sleepers) t->cancel();
  state_->server.stop();
  for (auto& n : state_->nodes) {
    n.requests->shutdown();
    n.probe->shutdown();
  }
}

rasio::awaitable<boost::system::error_code> router::async_start(diagnostics& diag) {
  auto s = state_;
  std::vector<std::vector<std::string>> seen(s->nodes.size());
  std::vector<bool> answered(s->nodes.size(), false);
  std::string unreachable;
  for (std::size_t k = 0; k < s->nodes.size(); ++k) {
    diagnostics d;
    auto m = co_await openai::async_list_models(*s->nodes[k].probe, s->upstream_auth.empty() ? std::string_view{} : std::string_view(s->cfg.upstream_api_key), d);
    if (m) {
      answered[k] = true;
      seen[k] = std::move(*m);
      std::sort(seen[k].begin(), seen[k].end());
    } else {
      s->nodes[k].breaker.on_health_failure();
      s->sync_available(k);
      unreachable += "\n  - " + s->nodes[k].name + " (" + s->nodes[k].url + "): " +
                     planetserve::detail::sanitized(d.empty() ? m.error().message() : d.message, 300);
    }
  }
  const auto first = std::find(answered.begin(), answered.end(), true);
  if (first == answered.end()) {
    diag.message = "no node answered GET /v1/models:" + unreachable;
    co_return make_error_code(error::connection_failed);
  }
  const auto& ref = seen[static_cast<std::size_t>(first - answered.begin())];
  std::string disagree;
  for (std::size_t k = 0; k < s->nodes.size(); ++k) {
    if (!answered[k] || seen[k] == ref) continue;
    std::string list;
    for (const auto& m : seen[k]) list += (list.empty() ? "" : ", ") + planetserve::detail::sanitized(m, 200);
    disagree += "\n  - " + s->nodes[k].name + " (" + s->nodes[k].url + ") serves: " + (list.empty() ? "nothing" : list);
  }
  if (!disagree.empty()) {
    std::string list;
    for (const auto& m : ref) list += (list.empty() ? "" : ", ") + planetserve::detail::sanitized(m, 200);
    diag.message = "the nodes serve different models (node " + std::to_string(first - answered.begin()) + " serves: " + list +
                   "):" + disagree + "\n  a router needs every node to serve the same models: give nodes of one model";
    co_return make_error_code(error::model_not_served);
  }
  s->models = ref;
  if (!unreachable.empty()) diag.message = "nodes not answering at start (out until /health answers):" + unreachable;
  s->start_kv_events(diag);
  for (std::size_t k = 0; k < s->nodes.size(); ++k) {
    if (s->cfg.health_interval.count() > 0) {
      ++s->background;
      rasio::co_spawn(s->ex, state::health_loop(s, k), rasio::detached);
    }
    if (s->cfg.metrics_interval.count() > 0) {
      ++s->background;
      rasio::co_spawn(s->ex, state::load_loop(s, k), rasio::detached);
    }
  }
  co_return boost::system::error_code{};
}

result<std::uint16_t> router::listen(std::string_view host, std::uint16_t port, diagnostics& diag) {
  return state_->server.listen(host, port, diag);
}

std::uint16_t router::port() const noexcept { return state_->server.port(); }

rasio::awaitable<void> router::async_shutdown(std::chrono::milliseconds grace) {
  auto s = state_;
  s->stopping = true;
  for (auto* t : s->sleepers) t->cancel();
  co_await s->server.async_shutdown(grace);
  if (s->kv_events) s->kv_events->stop();
  for (auto& n : s->nodes) {
    n.requests->shutdown();
    n.probe->shutdown();
  }
}

const std::vector<std::string>& router::models() const noexcept { return state_->models; }
std::size_t router::nodes() const noexcept { return state_->nodes.size(); }
breaker_state router::node_breaker(std::size_t k) const { return state_->nodes.at(k).breaker.state(); }
std::uint64_t router::in_flight(std::size_t k) const { return state_->nodes.at(k).in_flight; }
const router_metrics& router::metrics() const noexcept { return state_->metrics; }
std::string router::metrics_page() const { return state_->render(); }
const dispatch::policy& router::policy() const noexcept { return *state_->policy; }
const experiment::kv_subscription_stats* router::kv_events_stats(std::size_t k) const {
  if (k >= state_->nodes.size()) throw std::out_of_range("router::kv_events_stats: no node " + std::to_string(k));
  return state_->kv_events ? &state_->kv_events->stats(k) : nullptr;
}

}  // namespace planetserve::route
