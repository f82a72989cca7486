// SPDX-License-Identifier: MIT
// Compiled body of sim::node_server: vLLM's OpenAI routes over the sans-io engine, one step timer.
#pragma once

#include <planetserve/detail/rethrow.hpp>
#include <planetserve/openai/error_body.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/sim/chat_template.hpp>
#include <planetserve/sim/detail/request_parser.hpp>
#include <planetserve/sim/node_server.hpp>
#include <planetserve/sim/random.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <unordered_map>

// GCC 12 inlines asio's awaitable frame allocation into these coroutines and then reports
// its own recycling operator delete as mismatched (-Wmismatched-new-delete): a false alarm.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace planetserve::sim {

node_config node_config::from_profile(const profile& p) {
  node_config c;
  c.engine = engine_config::from_profile(p);
  c.served_model_name = p.model;
  c.gpu_memory_utilization = p.gpu_memory_utilization;
  return c;
}

engine_config node_config::effective_engine() const {
  engine_config e = engine;
  e.counting = vllm.counting;
  // Events are kept when there is a publisher for them, or when the engine's own settings ask
  // (an in-process caller that takes them itself: virtual time).
  e.enable_kv_cache_events = engine.enable_kv_cache_events || !kv_events.endpoint.empty();
  return e;
}

metrics_page_config node_config::metrics_page() const {
  metrics_page_config page;
  page.names = metrics_names;
  page.families = vllm.families;
  page.model_name = served_model_name;
  page.engine_index = engine_index;
  page.gpu_memory_utilization = gpu_memory_utilization;
  page.num_gpu_blocks_override = num_gpu_blocks_override;
  return page;
}

namespace detail {

namespace nasio = boost::asio;
namespace njson = boost::json;
using nclock = std::chrono::steady_clock;
constexpr auto node_use_tuple = nasio::as_tuple(nasio::use_awaitable);

// A generation request waiting for tokens. Lives in its handler's coroutine frame; the
// engine loop finds it by request id and wakes it by cancelling `wake`.
struct pending_request {
  explicit pending_request(const nasio::any_io_executor& ex) : wake(ex) {
    wake.expires_at(nasio::steady_timer::time_point::max());
  }
  nasio::steady_timer wake;
  std::vector<tokenize::token_id> tokens;  // produced, not yet written
  std::vector<std::uint32_t> step_counts;  // how many of `tokens` each step produced (one SSE event each)
  std::optional<finish_reason> finished;
  request_usage usage;
  bool gone = false;  // client left, or the node is stopping
};

inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Every byte of the longer string is looked at, whatever matches, so timing does not
  // tell an attacker how much of the key was right.
  const std::size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0u;
    const unsigned y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
    diff |= x ^ y;
  }
  return diff == 0;
}

inline void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

inline void append_hex16(std::string& out, std::uint64_t v) {
  static constexpr char hex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out += hex[(v >> shift) & 15];
}

// vLLM's ErrorResponse: {"error": {"message", "type", "param", "code"}} (shared with the router).
using openai::error_body;

enum class usage_details { omit_when_off, null_when_off };

// The emulated version decides how the engine counts prefix-cache lookups.
inline node_config with_version_semantics(node_config c) {
  c.engine = c.effective_engine();
  return c;
}

struct node_state : std::enable_shared_from_this<node_state> {
  node_state(nasio::any_io_executor e, node_config c)
      : ex(std::move(e)),
        cfg(with_version_semantics(std::move(c))),
        eng(cfg.engine),
        faults(cfg.faults),
        server(ex, cfg.http),
        step_timer(ex) {
    if (!cfg.api_key.empty()) expected_auth = "Bearer " + cfg.api_key;
    tokenizer = cfg.tokenizer ? cfg.tokenizer : default_prompt_tokenizer(cfg.chat);
    page = cfg.metrics_page();
    id_salt = mix_seed(cfg.engine.seed, std::uint64_t{0x1d5a17});
    start_clock();
  }

  void start_clock() {
    epoch = nclock::now();
    created_unix = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    page.created_unix_s = created_unix;
  }

  time_point now() const { return std::chrono::duration_cast<time_point>(nclock::now() - epoch); }
  std::uint64_t unix_seconds() const {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  }

  // Wakes the step loop when it sleeps without a step in flight (idle or waiting for the
  // next step): new work may move the next step earlier.
  void kick() {
    if (!in_flight) step_timer.cancel();
  }

  // vLLM publishes a step's KV events once the step has run: here, when its outputs are due.
  void publish_kv_events() {
    if (!kv_pub) return;
    auto events = eng.take_kv_events();
    if (events.empty()) return;
    kvevents::event_batch b;
    b.ts = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    b.events = std::move(events);
    b.data_parallel_rank = 0;
    kv_pub->publish(b);
  }

  void deliver(const step_result& r) {
    publish_kv_events();
    for (const auto& o : r.outputs) {
      auto it = pending.find(o.id);
      if (it == pending.end()) continue;
      pending_request& p = *it->second;
      p.tokens.insert(p.tokens.end(), o.tokens.begin(), o.tokens.end());
      p.step_counts.push_back(static_cast<std::uint32_t>(o.tokens.size()));
      if (o.finished) p.finished = o.finished;
      p.usage = o.usage;
      p.wake.cancel();
    }
  }

  void stop_all() {
    stopping = true;
    if (kv_pub) kv_pub->stop();
    server.stop();
    step_timer.cancel();
    for (auto& [id, p] : pending) {
      p->gone = true;
      p->wake.cancel();
    }
  }

  std::string new_id(std::string_view prefix) {
    std::string id(prefix);
    const std::uint64_t n = next_id++;
    append_hex16(id, mix_seed(id_salt, n));
    append_hex16(id, n ^ id_salt);  // a bijection of the counter: ids never repeat
    return id;
  }

  bool authorized(const http::server_request& req) const {
    if (expected_auth.empty()) return true;
    return constant_time_equal(req.header("Authorization"), expected_auth);
  }

  nasio::any_io_executor ex;
  node_config cfg;
  engine eng;
  fault_injector faults;
  http::server server;
  nasio::steady_timer step_timer;
  nclock::time_point epoch;
  double created_unix = 0;
  std::optional<step_result> in_flight;  // computed, outputs not yet due
  std::unique_ptr<kv_event_publisher> kv_pub;  // cfg.kv_events, once listening
  time_point last_arrival{0};            // engine time of the latest add_request
  std::unordered_map<std::string, pending_request*> pending;
  bool stopping = false;
  bool loop_started = false;
  std::uint64_t next_index = 0;  // generation requests seen (fault decisions)
  std::uint64_t next_id = 0;
  std::uint64_t id_salt = 0;
  std::string expected_auth;
  node_server_stats stats;
  std::shared_ptr<const tokenize::tokenizer> tokenizer;  // cfg.tokenizer, or the default
  metrics_page_config page;
  std::string metrics_buf;
};

// The one timer of a node: sleeps until the engine's next step, runs it, sleeps until the
// step ends, hands its tokens to the waiting handlers. Steps already due (zero-time steps of
// the instant profile, or steps the thread fell behind on) run back to back, a bounded burst
// at a time, and each handler then writes its due events in one go.
inline nasio::awaitable<void> run_engine(std::shared_ptr<node_state> st) {
  constexpr int max_burst = 32;
  while (!st->stopping) {
    if (st->in_flight) {
      const auto due = st->epoch + st->in_flight->end;
      if (nclock::now() < due) {
        st->step_timer.expires_at(due);
        co_await st->step_timer.async_wait(node_use_tuple);
        continue;
      }
      step_result r = std::move(*st->in_flight);
      st->in_flight.reset();
      st->deliver(r);
      continue;
    }
    const auto next = st->eng.next_step_time();
    const time_point now = st->now();
    if (next && *next <= now) {
      // A step starts when the previous one ended (or when the latest request arrived), not
      // when this thread got round to it: host jitter does not shift the emulated GPU's
      // timeline, and outputs already due are delivered at once.
      time_point start = std::max(*next, st->last_arrival);
      for (int burst = 0; burst < max_burst; ++burst) {
        step_result r = st->eng.step(start);
        if (r.end > now) {
          st->in_flight = std::move(r);
          break;
        }
        st->deliver(r);
        const auto again = st->eng.next_step_time();
        if (!again || *again > now) break;
        start = std::max(*again, st->last_arrival);
      }
      if (!st->in_flight) {
        // Let the handlers write before the next burst.
        co_await nasio::post(st->ex, nasio::use_awaitable);
      }
      continue;
    }
    st->step_timer.expires_at(next ? st->epoch + *next : nasio::steady_timer::time_point::max());
    co_await st->step_timer.async_wait(node_use_tuple);
  }
}

// ---- Response JSON -----------------------------------------------------------------------

inline void append_usage(std::string& out, const request_usage& u, bool details_on, usage_details mode) {
  out += "{\"prompt_tokens\":";
  append_uint(out, u.prompt_tokens);
  out += ",\"total_tokens\":";
  append_uint(out, u.prompt_tokens + u.completion_tokens);
  out += ",\"completion_tokens\":";
  append_uint(out, u.completion_tokens);
  // vLLM fills prompt_tokens_details only with --enable-prompt-tokens-details and a
  // non-zero hit (`if self.enable_prompt_tokens_details and num_cached_tokens:`).
  if (details_on && u.cached_tokens > 0) {
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    append_uint(out, u.cached_tokens);
    out += '}';
  } else if (mode == usage_details::null_when_off) {
    out += ",\"prompt_tokens_details\":null";
  }
  out += '}';
}

// `{"id":...,"object":...,"created":...,"model":...` shared by every chunk of a response.
inline std::string response_head(std::string_view id, std::string_view object, std::uint64_t created,
                                 std::string_view model) {
  std::string h = "{\"id\":";
  openai::append_json_string(h, id);
  h += ",\"object\":";
  openai::append_json_string(h, object);
  h += ",\"created\":";
  append_uint(h, created);
  h += ",\"model\":";
  openai::append_json_string(h, model);
  return h;
}

inline void append_finish(std::string& out, const std::optional<finish_reason>& f) {
  if (f) {
    out += '"';
    out += to_string(*f);
    out += '"';
  } else {
    out += "null";
  }
}

// ---- Handlers ----------------------------------------------------------------------------

inline nasio::awaitable<void> write_json(http::server_response& res, unsigned status, std::string_view body) {
  co_await res.async_write_whole(status, "application/json", body);
}

inline nasio::awaitable<void> write_error(http::server_response& res, unsigned status, std::string_view message,
                                          std::string_view param = {}) {
  std::string body = error_body(status, message, param);
  co_await res.async_write_whole(status, "application/json", body);
}

inline nasio::awaitable<void> write_unauthorized(http::server_response& res) {
  std::string body = "{\"error\":\"Unauthorized\"}";
  co_await res.async_write_whole(401, "application/json", body);
}

inline nasio::awaitable<void> sleep_for(const nasio::any_io_executor& ex, std::chrono::nanoseconds d) {
  nasio::steady_timer t(ex);
  t.expires_after(d);
  co_await t.async_wait(node_use_tuple);
}

// `chat` is a template parameter so that the route points straight at the coroutine (GCC 12
// warns falsely about a coroutine ramp inlined into a wrapper).
template <bool chat>
nasio::awaitable<void> handle_generation(std::shared_ptr<node_state> st, http::server_request& req,
                                         http::server_response& res) {
  const nclock::time_point received = nclock::now();
  if (!st->authorized(req)) {
    ++st->stats.rejected;
    co_await write_unauthorized(res);
    co_return;
  }
  ++st->stats.generation_requests;
  const fault_decision fault = st->faults.enabled() ? st->faults.decide(st->next_index++) : fault_decision{};
  if (fault.delay.count() > 0) co_await sleep_for(st->ex, fault.delay);
  // Stopped meanwhile (a killed server): no engine steps any more, so waiting for tokens
  // would hang the client until its timeout. Return unanswered; the server drops the connection.
  if (st->stopping) co_return;
  if (st->faults.enabled() && !st->faults.healthy(nclock::now() - st->epoch)) {
    ++st->stats.injected_errors;
    co_await write_error(res, 503, "The engine is not ready yet (injected unhealthy window).");
    co_return;
  }
  if (fault.reset) {
    // Unanswered: the server drops the connection, as a crashing worker or a proxy reset would.
    ++st->stats.injected_resets;
    res.reset_connection();
    co_return;
  }
  if (fault.error_status) {
    ++st->stats.injected_errors;
    co_await write_error(res, *fault.error_status, "Injected fault: the emulator was told to fail this request.");
    co_return;
  }

  generation_request g;
  if (auto e = parse_generation(req.body(), chat, st->cfg, *st->tokenizer, g)) {
    ++st->stats.rejected;
    co_await write_error(res, e->status, e->message, e->param);
    co_return;
  }
  std::string id = st->new_id(chat ? "chatcmpl-" : "cmpl-");
  const std::size_t prompt_len = g.prompt.size();
  diagnostics diag;
  const time_point arrival = st->now();
  if (auto ec = st->eng.add_request(id, std::move(g.prompt), g.params, arrival, diag)) {
    ++st->stats.rejected;
    co_await write_error(res, 400, diag.message);
    co_return;
  }
  st->last_arrival = std::max(st->last_arrival, arrival);
  pending_request p(st->ex);
  st->pending.emplace(id, &p);
  st->kick();
  res.on_client_gone([&p] {
    p.gone = true;
    p.wake.cancel();
  });
  // Leaves the engine and the delivery map however the handler ends.
  struct cleanup {
    node_state& s;
    const std::string& id;
    pending_request& p;
    ~cleanup() {
      s.pending.erase(id);
      if (!p.finished) s.eng.abort(id);
    }
  } guard{*st, id, p};

  const std::uint64_t created = st->unix_seconds();
  const std::string head = response_head(id, chat ? (g.stream ? "chat.completion.chunk" : "chat.completion")
                                                   : "text_completion",
                                         created, st->cfg.served_model_name);
  const bool details = st->cfg.enable_prompt_tokens_details;
  const auto& gen = st->eng.generator();
  std::string out, text;

  if (!g.stream) {
    std::vector<tokenize::token_id> all;
    while (!p.finished) {
      if (p.gone) {
        ++st->stats.client_aborts;
        co_return;
      }
      if (p.tokens.empty()) {
        co_await p.wake.async_wait(node_use_tuple);
        continue;
      }
      all.insert(all.end(), p.tokens.begin(), p.tokens.end());
      p.tokens.clear();
      p.step_counts.clear();
    }
    all.insert(all.end(), p.tokens.begin(), p.tokens.end());
    p.tokens.clear();
    gen.decode(all, text);
    out = head;
    if (chat) {
      out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"reasoning_content\":null,\"content\":";
      openai::append_json_string(out, text);
      out += ",\"tool_calls\":[]},\"logprobs\":null,\"finish_reason\":";
      append_finish(out, p.finished);
      out += ",\"stop_reason\":null}],\"usage\":";
      append_usage(out, p.usage, details, usage_details::null_when_off);
      out += ",\"prompt_logprobs\":null}";
    } else {
      out += ",\"choices\":[{\"index\":0,\"text\":";
      openai::append_json_string(out, text);
      out += ",\"logprobs\":null,\"finish_reason\":";
      append_finish(out, p.finished);
      out += ",\"stop_reason\":null,\"prompt_logprobs\":null}],\"usage\":";
      append_usage(out, p.usage, details, usage_details::null_when_off);
      out += '}';
    }
    if (auto ec = co_await res.async_write_whole(200, "application/json", out)) {
      ++st->stats.client_aborts;
      co_return;
    }
    ++st->stats.completed;
    co_return;
  }

  // Streaming, as vLLM's serving_chat / serving_completion write it.
  std::size_t events = 0;
  bool wrote_content = false;
  const std::size_t close_after = fault.close_after_chunks.value_or(SIZE_MAX);
  auto cut = [&]() -> bool {
    if (events < close_after) return false;
    ++st->stats.injected_closes;
    res.close_after();
    return true;
  };
  out.clear();
  if (chat && close_after > 0) {
    // vLLM's first chat chunk carries the role, before any token is generated. It leaves
    // with the response head: one write and one wake-up of the client instead of two.
    out = "data: ";
    out += head;
    out += ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]";
    if (g.include_usage && g.continuous_usage) {
      out += ",\"usage\":";
      append_usage(out, request_usage{prompt_len, 0, 0}, details, usage_details::omit_when_off);
    }
    out += "}\n\n";
  }
  constexpr std::string_view event_stream = "text/event-stream; charset=utf-8";
  if (!out.empty()) ++events;
  // Zero-time steps (the instant profile) produce every token as soon as the engine's
  // burst has run. One turn of the event loop lets it run; then the head, the role chunk
  // and the tokens are all due together and leave in one write, as events due together
  // always do. With a real step time no token is due yet, and the head leaves at once.
  if (close_after == SIZE_MAX) co_await nasio::post(st->ex, nasio::use_awaitable);
  bool begun = false;
  if (close_after != SIZE_MAX || p.gone || (p.tokens.empty() && !p.finished)) {
    if (auto ec = co_await res.async_begin_stream(200, event_stream, out)) {
      ++st->stats.client_aborts;
      co_return;
    }
    begun = true;
    if (cut()) co_return;
  }
  for (;;) {
    if (p.gone) {
      ++st->stats.client_aborts;
      co_return;
    }
    if (p.tokens.empty() && !p.finished) {
      co_await p.wake.async_wait(node_use_tuple);
      continue;
    }
    const bool last = p.finished.has_value();
    if (p.step_counts.empty()) p.step_counts.push_back(static_cast<std::uint32_t>(p.tokens.size()));
    // One SSE event per engine step, as vLLM sends them; events that are due together
    // leave in one write (before the head has gone, after the role chunk).
    if (begun) out.clear();
    bool first_content = false;
    std::size_t start = 0;
    std::size_t completed_before = p.usage.completion_tokens - std::min(p.usage.completion_tokens, p.tokens.size());
    for (std::size_t k = 0; k < p.step_counts.size() && events < close_after; ++k) {
      const std::size_t n = std::min<std::size_t>(p.step_counts[k], p.tokens.size() - start);
      const bool final_event = last && k + 1 == p.step_counts.size();
      const std::optional<finish_reason> reason = final_event ? p.finished : std::nullopt;
      text.clear();
      for (std::size_t t = start; t < start + n; ++t) text += gen.piece(p.tokens[t]);
      if (!wrote_content && !text.empty()) first_content = wrote_content = true;
      start += n;
      completed_before += n;
      request_usage so_far = p.usage;
      so_far.completion_tokens = completed_before;
      out += "data: ";
      out += head;
      if (chat) {
        out += ",\"choices\":[{\"index\":0,\"delta\":{\"content\":";
        openai::append_json_string(out, text);
        out += "},\"logprobs\":null,\"finish_reason\":";
        append_finish(out, reason);
        if (final_event) out += ",\"stop_reason\":null";
        out += "}]";
        if (g.include_usage && g.continuous_usage) {
          out += ",\"usage\":";
          append_usage(out, so_far, details, usage_details::omit_when_off);
        }
      } else {
        out += ",\"choices\":[{\"index\":0,\"text\":";
        openai::append_json_string(out, text);
        out += ",\"logprobs\":null,\"finish_reason\":";
        append_finish(out, reason);
        out += ",\"stop_reason\":null}],\"usage\":";
        if (g.include_usage && g.continuous_usage)
          append_usage(out, so_far, details, usage_details::omit_when_off);
        else
          out += "null";
      }
      out += "}\n\n";
      ++events;
    }
    p.tokens.clear();
    p.step_counts.clear();
    if (last && events < close_after) {
      // The end arrives in the same write: the usage chunk and [DONE].
      if (g.include_usage) {
        out += "data: ";
        out += head;
        out += ",\"choices\":[],\"usage\":";
        append_usage(out, p.usage, details, usage_details::omit_when_off);
        out += "}\n\n";
        ++events;
      }
      if (events < close_after) out += "data: [DONE]\n\n";
    }
    // Stamped just before the write; reported after it so the hook's cost is not in between.
    const nclock::time_point written_at = first_content && st->cfg.on_timing ? nclock::now() : nclock::time_point{};
    // The normal end carries the terminating chunk in the same write.
    const bool ends = last && events < close_after;
    boost::system::error_code wec;
    if (!begun && ends)
      wec = co_await res.async_write_stream(200, event_stream, out);
    else if (!begun)
      wec = co_await res.async_begin_stream(200, event_stream, out);
    else if (ends)
      wec = co_await res.async_end_stream(out);
    else
      wec = co_await res.async_write_chunk(out);
    begun = true;
    if (wec) {
      ++st->stats.client_aborts;
      co_return;
    }
    if (written_at != nclock::time_point{})
      st->cfg.on_timing(request_timing{st->server.port(), g.prompt_hash, received, written_at});
    if (ends) break;
    if (cut()) co_return;
  }
  ++st->stats.completed;
}

inline nasio::awaitable<void> handle_models(std::shared_ptr<node_state> st, http::server_request& req,
                                            http::server_response& res) {
  if (!st->authorized(req)) {
    co_await write_unauthorized(res);
    co_return;
  }
  const std::uint64_t created = st->unix_seconds();
  const auto& name = st->cfg.served_model_name;
  std::string out = "{\"object\":\"list\",\"data\":[{\"id\":";
  openai::append_json_string(out, name);
  out += ",\"object\":\"model\",\"created\":";
  append_uint(out, created);
  out += ",\"owned_by\":\"vllm\",\"root\":";
  openai::append_json_string(out, name);
  out += ",\"parent\":null,\"max_model_len\":";
  append_uint(out, st->cfg.engine.max_model_len);
  out += ",\"permission\":[{\"id\":\"modelperm-";
  append_hex16(out, mix_seed(st->id_salt, std::uint64_t{0x9e41}));
  append_hex16(out, mix_seed(st->id_salt, std::uint64_t{0x9e42}));
  out += "\",\"object\":\"model_permission\",\"created\":";
  append_uint(out, created);
  out += ",\"allow_create_engine\":false,\"allow_sampling\":true,\"allow_logprobs\":true,"
         "\"allow_search_indices\":false,\"allow_view\":true,\"allow_fine_tuning\":false,"
         "\"organization\":\"*\",\"group\":null,\"is_blocking\":false}]}]}";
  co_await write_json(res, 200, out);
}

inline nasio::awaitable<void> handle_tokenize(std::shared_ptr<node_state> st, http::server_request& req,
                                              http::server_response& res) {
  if (!st->authorized(req)) {
    co_await write_unauthorized(res);
    co_return;
  }
  std::vector<tokenize::token_id> ids;
  if (auto err = parse_tokenize(req.body(), st->cfg, *st->tokenizer, ids)) {
    co_await write_error(res, err->status, err->message, err->param);
    co_return;
  }
  std::string out = "{\"count\":";
  append_uint(out, ids.size());
  out += ",\"max_model_len\":";
  append_uint(out, st->cfg.engine.max_model_len);
  out += ",\"tokens\":[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    append_uint(out, ids[i]);
  }
  out += "],\"token_strs\":null}";
  co_await write_json(res, 200, out);
}

inline nasio::awaitable<void> handle_detokenize(std::shared_ptr<node_state> st, http::server_request& req,
                                                http::server_response& res) {
  if (!st->authorized(req)) {
    co_await write_unauthorized(res);
    co_return;
  }
  njson::monotonic_resource mr;
  boost::system::error_code ec;
  njson::value doc = njson::parse(req.body(), ec, &mr);
  if (ec || !doc.is_object()) {
    const std::string message =
        ec ? "JSON decode error: " + ec.message() : std::string("Input should be a valid dictionary or object");
    co_await write_error(res, 400, message);
    co_return;
  }
  const auto& o = doc.get_object();
  std::optional<request_error> err = check_model(o, st->cfg);
  std::vector<tokenize::token_id> ids;
  if (!err) {
    auto it = o.find("tokens");
    if (it == o.end()) err = request_error{400, "Field required (field `tokens`)", "tokens"};
    else if (!it->value().is_array()) err = type_error("tokens", "a valid list");
    else err = read_token_list(it->value().get_array(), "tokens", ids);
  }
  if (err) {
    co_await write_error(res, err->status, err->message, err->param);
    co_return;
  }
  // The approximate tokenizer hashes text, so only the generator's own tokens have text.
  std::string text;
  st->eng.generator().decode(ids, text);
  std::string out = "{\"prompt\":";
  openai::append_json_string(out, text);
  out += '}';
  co_await write_json(res, 200, out);
}

inline nasio::awaitable<void> handle_health(std::shared_ptr<node_state> st, http::server_request&,
                                            http::server_response& res) {
  const bool ok = !st->faults.enabled() || st->faults.healthy(nclock::now() - st->epoch);
  co_await res.async_write_whole(ok ? 200 : 503, "", "");
}

inline nasio::awaitable<void> handle_version(std::shared_ptr<node_state> st, http::server_request&,
                                             http::server_response& res) {
  std::string out = "{\"version\":";
  openai::append_json_string(out, st->cfg.vllm.name);
  out += '}';
  co_await write_json(res, 200, out);
}

inline nasio::awaitable<void> handle_metrics(std::shared_ptr<node_state> st, http::server_request&,
                                             http::server_response& res) {
  std::string page;
  page.swap(st->metrics_buf);  // reuse the last page's capacity
  page.clear();
  write_metrics(view_of(st->eng), st->page, page);
  co_await res.async_write_whole(200, "text/plain; version=0.0.4; charset=utf-8", page);
  if (page.capacity() > st->metrics_buf.capacity()) st->metrics_buf.swap(page);
}

inline nasio::awaitable<void> handle_reset_prefix_cache(std::shared_ptr<node_state> st, http::server_request&,
                                                        http::server_response& res) {
  // vLLM answers 200 whether or not the cache could be reset (it refuses while requests
  // hold blocks, and logs it).
  (void)st->eng.reset_prefix_cache();
  st->publish_kv_events();
  co_await res.async_write_whole(200, "", "");
}

using node_handler_fn = nasio::awaitable<void> (*)(std::shared_ptr<node_state>, http::server_request&,
                                                   http::server_response&);

inline nasio::awaitable<void> node_gone(http::server_response& res) {
  co_await write_error(res, 503, "The node is shutting down.");
}

inline http::server_handler bind_route(const std::shared_ptr<node_state>& st, node_handler_fn fn) {
  // A weak reference: the server (inside node_state) owns its routes.
  return [w = std::weak_ptr<node_state>(st), fn](http::server_request& req, http::server_response& res) {
    auto s = w.lock();
    if (!s) return node_gone(res);
    return fn(std::move(s), req, res);
  };
}

}  // namespace detail

node_server::node_server(boost::asio::any_io_executor ex, node_config config)
    : state_(std::make_shared<detail::node_state>(std::move(ex), std::move(config))) {
  using boost::beast::http::verb;
  auto& srv = state_->server;
  srv.route(verb::post, "/v1/completions", detail::bind_route(state_, &detail::handle_generation<false>));
  srv.route(verb::post, "/v1/chat/completions", detail::bind_route(state_, &detail::handle_generation<true>));
  srv.route(verb::get, "/v1/models", detail::bind_route(state_, &detail::handle_models));
  srv.route(verb::get, "/health", detail::bind_route(state_, &detail::handle_health));
  srv.route(verb::get, "/version", detail::bind_route(state_, &detail::handle_version));
  srv.route(verb::post, "/tokenize", detail::bind_route(state_, &detail::handle_tokenize));
  srv.route(verb::post, "/detokenize", detail::bind_route(state_, &detail::handle_detokenize));
  srv.route(verb::get, "/metrics", detail::bind_route(state_, &detail::handle_metrics));
  srv.route(verb::post, "/reset_prefix_cache", detail::bind_route(state_, &detail::handle_reset_prefix_cache));
}

node_server::~node_server() { stop(); }

result<std::uint16_t> node_server::listen(std::string_view host, std::uint16_t port, diagnostics& diag) {
  auto& st = *state_;
  if (st.stopping) {
    diag.message = "sim node: listen() after stop()";
    return error::invalid_argument;
  }
  if (!st.cfg.kv_events.endpoint.empty() && !st.kv_pub) {
    auto pub = std::make_unique<kv_event_publisher>(st.ex, st.cfg.kv_events);
    if (auto ec = pub->bind(diag)) return ec;
    st.kv_pub = std::move(pub);
  }
  auto bound = st.server.listen(host, port, diag);
  if (!bound) return bound;
  if (!st.loop_started) {
    st.loop_started = true;
    st.start_clock();
    boost::asio::co_spawn(st.ex, detail::run_engine(state_), planetserve::detail::rethrow_exception{});
  }
  return bound;
}

std::uint16_t node_server::port() const noexcept { return state_->server.port(); }

std::string node_server::kv_events_endpoint() const {
  return state_->kv_pub ? state_->kv_pub->endpoint() : std::string();
}

std::string node_server::kv_events_replay_endpoint() const {
  return state_->kv_pub ? state_->kv_pub->replay_endpoint() : std::string();
}

kv_event_publisher* node_server::kv_events_publisher() noexcept { return state_->kv_pub.get(); }

boost::asio::awaitable<void> node_server::async_shutdown(std::chrono::milliseconds grace) {
  auto st = state_;
  co_await st->server.async_shutdown(grace);
  st->stop_all();
}

void node_server::stop() noexcept { state_->stop_all(); }

const sim::engine& node_server::engine() const noexcept { return state_->eng; }
const node_config& node_server::config() const noexcept { return state_->cfg; }
const node_server_stats& node_server::stats() const noexcept { return state_->stats; }
const http::server_stats& node_server::http_stats() const noexcept { return state_->server.stats(); }

}  // namespace planetserve::sim

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
