// SPDX-License-Identifier: MIT
// Compiled body of experiment::runner.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/detail/python_float.hpp>
#include <planetserve/detail/sanitize.hpp>
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/experiment/atomic_file.hpp>
#include <planetserve/experiment/cache_prediction.hpp>
#include <planetserve/experiment/epoch_core.hpp>
#include <planetserve/experiment/metrics_page.hpp>
#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/run_charts.hpp>
#include <planetserve/experiment/run_outputs.hpp>
#include <planetserve/experiment/downsample.hpp>
#include <planetserve/experiment/memory_estimate.hpp>
#include <planetserve/experiment/runner.hpp>
#include <planetserve/experiment/stats.hpp>
#include <planetserve/experiment/session_source.hpp>
#include <planetserve/experiment/virtual_fleet.hpp>
#include <planetserve/experiment/wait_group.hpp>
#include <planetserve/http/failure.hpp>
#include <planetserve/http/url.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/openai/server_info.hpp>
#include <planetserve/openai/stream_completion.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>
#include <planetserve/tokenize/approx_tokenizer.hpp>
#include <planetserve/version.hpp>
#include <planetserve/workload/arrivals.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <tuple>
#include <deque>
#include <queue>
#include <exception>
#include <map>
#include <cmath>
#include <cstdio>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace planetserve::experiment {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

double seconds_between(http::clock::time_point from, http::clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::chrono::milliseconds to_ms(std::chrono::duration<double> d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

/// A short failure class for counting in the summary.
std::string failure_kind(const openai::stream_result& o) {
  if (o.error == error::cancelled) return "interrupted";
  if (o.status >= 400) return "http_" + std::to_string(o.status);
  if (o.error == error::timeout) return "timeout";
  if (o.error == error::connection_failed) return "connection_failed";
  if (o.error == error::connection_closed) return "connection_closed";
  if (o.error == error::stream_error) return "stream_error";
  if (o.error == error::stream_incomplete) return "stream_incomplete";
  if (o.error.category() == error_category()) return o.error.message();
  return "transport_error";
}

/// Whether a failure says the node itself may be unreachable, as opposed to a request the
/// node refused: it counts towards the node's breaker and makes the runner check /health.
bool node_unreachable(const openai::stream_result& o) {
  return http::node_unreachable(o.status, o.error);
}

/// Whether the request can be sent again: the connection failed before any response byte,
/// so the server produced nothing for it (a timeout may mean it is still working: not retried).
bool retryable(const openai::stream_result& o) {
  return http::retryable_failure(o.status, o.error, o.first_token.has_value());
}

/// The first pair of endpoints that name the same server (same scheme, resolved address,
/// port and path: `localhost:P` and `127.0.0.1:P` are one server), described; "" if none.
/// Names that do not resolve are left to the preflight to report.
std::string duplicate_endpoints(const std::vector<std::string>& endpoints) {
  std::map<std::string, std::size_t> seen;
  for (std::size_t k = 0; k < endpoints.size(); ++k) {
    diagnostics d;
    auto u = http::parse_url(endpoints[k], d);
    if (!u) continue;
    std::vector<std::string> keys;
    ::addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    ::addrinfo* res = nullptr;
    const std::string port = std::to_string(u->port);
    if (::getaddrinfo(u->host.c_str(), port.c_str(), &hints, &res) == 0) {
      for (auto* a = res; a; a = a->ai_next) {
        char host[NI_MAXHOST];
        if (::getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof host, nullptr, 0, NI_NUMERICHOST) == 0)
          keys.push_back(host);
      }
      ::freeaddrinfo(res);
    }
    if (keys.empty()) keys.push_back(u->host);
    for (auto& key : keys) {
      key = (u->tls ? "https://[" : "http://[") + key + "]:" + port + u->target;
      auto [it, fresh] = seen.try_emplace(key, k);
      if (!fresh && it->second != k)
        return "node_" + std::to_string(it->second) + " (" + endpoints[it->second] + ") and node_" + std::to_string(k) +
               " (" + endpoints[k] + ") are the same server (" + key +
               "): each would be counted as a node of its own; give each server once, or "
               "--allow-duplicate-endpoints to mean it";
    }
  }
  return {};
}

}  // namespace

struct runner::state {
  struct node {
    std::string name;
    std::string url;
    std::optional<http::client> requests;  // completions: big pool, long timeouts
    std::optional<http::client> probe;     // /health, /metrics, /v1/models: short timeouts
    bool scrape_warned = false;
    bool reset_warned = false;
    std::optional<std::size_t> cache_blocks;
    node_timeline timeline;
  };

  asio::any_io_executor ex;
  run_config cfg;
  std::ostream& log;

  workload::dataset data;
  std::size_t n = 0;
  std::vector<std::vector<tokenize::token_id>> tokens;
  std::vector<std::string> bodies;
  std::string text_scratch;  // a trace prompt's text, made on demand (virtual time)
  // Conversations (when the dataset holds them): the sessions and the source that releases
  // their turns; a routing tokenizer of their own when the run gave none.
  std::vector<workload::session> conversations;
  std::optional<session_source> sessions;
  std::shared_ptr<tokenize::approx_tokenizer> approx_tok;  // routing tokenizer when the run gave none
  std::vector<std::chrono::nanoseconds> schedule;
  std::string model;
  std::vector<node> nodes;
  std::vector<http::header_field> auth;
  std::string auth_value;
  std::vector<policy_result> results;

  bool stop = false;
  // The first exception that escaped a spawned task: the run stops and reports it.
  std::exception_ptr task_failure;

  // The policy and epoch being run.
  dispatch::policy* policy = nullptr;
  http::clock::time_point t0{};
  double offset_s = 0;
  std::size_t epoch = 0;
  line_log requests_log;
  // The /metrics scrapes as they come (metrics_timeline.jsonl): a killed run keeps them.
  line_log timeline_log;
  // Warned once per file and run: the disk refused lines (they are kept and retried).
  bool log_failed = false;
  bool timeline_log_failed = false;
  // Files of finished policies the disk did not take, named for the final message.
  std::vector<std::string> incomplete;

  /// Appends (or, with an empty line, flushes) `out`; the first failure is said once.
  void write_line(line_log& out, bool& warned, std::string_view line) {
    if (!out.is_open()) return;
    diagnostics d;
    const auto ec = line.empty() ? out.flush(d) : out.append(line, d);
    if (ec && !warned) {
      warned = true;
      log << "\npswm: error: " << d.message << "\n";
    }
  }
  bool epoch_over = false;
  // The epoch being run: its logic, the driver's timer (cancelled to re-arm it), the
  // coroutines it started (requests, /health checks, progress), the progress timer.
  std::optional<epoch_core> core;
  request_source* source = nullptr;  // the epoch's requests (prepared prompts or conversations)
  // A virtual-time run's engines and its clock (one clock across epochs and policies).
  std::unique_ptr<virtual_fleet> vfleet;
  // Virtual time routing on virtual_fleet::node_tokens: the engines take those tokens as they are.
  bool routing_tokens_are_nodes = false;
  epoch_time virtual_now{0};
  asio::steady_timer* driver = nullptr;
  wait_group* tasks = nullptr;
  asio::steady_timer* progress_timer = nullptr;
  int plain_ticks = 0;

  state(asio::any_io_executor e, run_config c, std::ostream& l)
      : ex(std::move(e)), cfg(std::move(c)), log(l) {}

  double now_s() const { return seconds_between(t0, http::clock::now()); }

  /// Stops sending: what request_stop() and a failed task do.
  void stop_run() {
    stop = true;
    if (driver) driver->cancel();  // the driver tells the core
  }

  /// The completion of a spawned task. An exception escaping it (a bug, here or in a user's
  /// policy) is logged and kept, the run stops, and the task's count in `wg` is given back so
  /// the epoch cannot hang waiting for it. `wg` is null for tasks whose count an RAII guard
  /// gives back during unwinding.
  auto on_task_end(wait_group* wg) {
    return [this, wg](std::exception_ptr e) {
      if (!e) return;
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        what = x.what();
      } catch (...) {
      }
      if (!task_failure) task_failure = e;
      log << "\npswm: internal error: " << planetserve::detail::sanitized(what, 600) << "; stopping the run\n";
      if (wg) wg->done();
      stop_run();
    };
  }

  /// The policy called `name`: the run's own factories first, then the built-in ones.
  std::unique_ptr<dispatch::policy> make_named_policy(const std::string& name) const {
    if (auto it = cfg.custom_policies.find(name); it != cfg.custom_policies.end()) return it->second(cfg.policy);
    return dispatch::make_policy(name, cfg.policy);
  }

  /// The names a run may use, for messages.
  std::string policy_names() const {
    std::string names = dispatch::known_policy_names();
    for (const auto& [name, f] : cfg.custom_policies) names += ", " + name;
    return names;
  }

  /// `text` with every copy of the API key replaced: some servers quote the key they refuse.
  std::string redact(std::string text) const {
    if (cfg.api_key.empty()) return text;
    static constexpr std::string_view mask = "<redacted>";
    // Search on after the mask: a key that is part of "<redacted>" must not loop forever.
    for (auto at = text.find(cfg.api_key); at != std::string::npos; at = text.find(cfg.api_key, at + mask.size()))
      text.replace(at, cfg.api_key.size(), mask);
    return text;
  }

  // ---- preparation -------------------------------------------------------------------

  boost::system::error_code prepare(diagnostics& diag) {
    // Durations become integer clock ticks (and the backoff doubles up to 10 times): a value
    // past them (1e300 s) would make that cast undefined, so each is bounded here.
    for (const auto& [name, seconds, most] : {std::tuple{"request_timeout", cfg.request_timeout.count(), 1e7},
                                              std::tuple{"metrics_interval", cfg.metrics_interval.count(), 1e7},
                                              std::tuple{"drain_timeout", cfg.drain_timeout.count(), 1e7},
                                              std::tuple{"retry_backoff", cfg.retry_backoff.count(), 3600.0},
                                              std::tuple{"no_node_wait", cfg.no_node_wait.count(), 1e7},
                                              std::tuple{"average_interval_s", cfg.average_interval_s, 1e7}})
      if (!(seconds >= 0 && seconds <= most)) {
        diag.message = "run_config::" + std::string(name) + " is " + std::to_string(seconds) +
                       " s: give a number of seconds from 0 to " + std::to_string(static_cast<long>(most));
        return error::invalid_argument;
      }
    if (cfg.virtual_time) {
      if (!cfg.endpoints.empty()) {
        diag.message = "a virtual-time run drives in-process emulated engines: it takes no endpoints (leave run_config::endpoints empty)";
        return error::invalid_argument;
      }
      // `precise` routes on the engines' KV-cache events: handed over in-process.
      if (std::find(cfg.policies.begin(), cfg.policies.end(), "precise") != cfg.policies.end())
        cfg.virtual_nodes.node.engine.enable_kv_cache_events = true;
      auto vf = virtual_fleet::create(cfg.virtual_nodes, diag);
      if (!vf) return vf.error();
      // As `pswm run --sim`: route on the ids the engines compute (template and BOS included).
      if (!cfg.server_tokens) {
        cfg.server_tokens = virtual_fleet::node_tokens(cfg.virtual_nodes.node, cfg.api == api_kind::chat);
        routing_tokens_are_nodes = true;
      }
      vfleet = std::move(*vf);
      for (std::size_t k = 0; k < vfleet->size(); ++k) cfg.endpoints.push_back("virtual:node_" + std::to_string(k));
    } else if (cfg.endpoints.empty()) {
      diag.message = "no nodes: give --num-nodes and --base-port, or --endpoints";
      return error::invalid_argument;
    }
    // Read only as many prompts as an epoch sends.
    workload::dataset_config dc = cfg.dataset;
    // Virtual time keeps a trace's block ids, not its text: a million prompts fit in memory.
    dc.trace_text_on_demand = cfg.virtual_time;
    if (cfg.maxq > 0 && (dc.max_prompts == 0 || dc.max_prompts > cfg.maxq)) dc.max_prompts = cfg.maxq;
    if (cfg.prompts.empty() && workload::is_session_file(cfg.dataset_file, cfg.dataset)) {
      auto ss = workload::read_sessions(cfg.dataset_file, dc, diag);
      if (!ss) return ss.error();
      conversations = std::move(ss->sessions);
      data = {};
      data.source = ss->source;
      data.field = "conversations";
      data.lines = ss->lines;
      data.skipped = ss->skipped;
      if (conversations.empty()) {
        diag.message = ss->source + ": no conversation to replay";
        return error::empty_input;
      }
    } else if (!cfg.prompts.empty()) {
      // The caller's own prompts: dataset_file only names the outputs.
      if (cfg.dataset_file.empty()) cfg.dataset_file = "prompts";
      data = {};
      data.source = cfg.dataset_file.string() + " (in memory)";
      data.field = cfg.dataset.field;
      const std::size_t take = dc.max_prompts > 0 ? std::min(dc.max_prompts, cfg.prompts.size()) : cfg.prompts.size();
      data.prompts.assign(cfg.prompts.begin(), cfg.prompts.begin() + static_cast<std::ptrdiff_t>(take));
      data.lines = cfg.prompts.size();
    } else {
      auto ds = workload::read_dataset(cfg.dataset_file, dc, diag);
      if (!ds) return ds.error();
      data = std::move(*ds);
    }
    if (data.skipped > 0)
      log << "pswm: skipped " << data.skipped << " bad line(s) of " << data.source << "\n";
    n = cfg.maxq > 0 ? std::min(cfg.maxq, data.prompts.size()) : data.prompts.size();
    if (!conversations.empty()) {
      n = 0;
      for (const auto& c : conversations) n += c.turns.size();
    } else if (cfg.maxq > data.prompts.size())
      log << "pswm: --maxq " << cfg.maxq << " but " << data.source << " has only "
          << data.prompts.size() << " prompts: sending " << n << "\n";
    approx_tok = std::make_shared<tokenize::approx_tokenizer>(tokenize::approx_tokenizer_config{.seed = cfg.policy.tree.seed});
    const tokenize::tokenizer& tok = routing_tokenizer();
    // In real time every prompt is tokenized now, so deciding never tokenizes (the send
    // path stays fast). In virtual time the clock does not care: a prompt is tokenized when
    // it is routed and forgotten when its record is written, so a million prompts never
    // sit in memory as token ids. Conversations' turns are tokenized when released.
    tokens.resize(conversations.empty() ? n : 0);
    if (conversations.empty() && !cfg.virtual_time)
      for (std::size_t i = 0; i < n; ++i) {
        if (cfg.server_tokens) cfg.server_tokens(data.prompts[i], tokens[i]);
        else tok.encode(data.prompts[i].text, tokens[i]);
      }
    if (cfg.policy.lb.compat == dispatch::lb_compat::seed && cfg.policy.lb.seed_baseline_tokens.empty())
      tok.encode(dispatch::seed_baseline_text, cfg.policy.lb.seed_baseline_tokens);  // tokenized like the prompts
    workload::arrival_config ac;
    ac.mean_interval = std::chrono::duration<double>(cfg.average_interval_s);
    ac.burstiness = cfg.burstiness;
    ac.seed = cfg.seed;
    ac.process = cfg.arrival;
    ac.ramp_start_rps = cfg.ramp_start_rps;
    ac.ramp_end_rps = cfg.ramp_end_rps;
    if (auto ec = make_schedule(ac, diag)) return ec;
    for (std::size_t k = 0; k < cfg.endpoints.size() && !vfleet; ++k) {
      diagnostics ud;
      if (!http::parse_url(cfg.endpoints[k], ud)) {
        diag.message = "endpoint " + std::to_string(k) + ": " + ud.message;
        return error::invalid_argument;
      }
    }
    if (!cfg.allow_duplicate_endpoints && !vfleet)
      if (auto dup = duplicate_endpoints(cfg.endpoints); !dup.empty()) {
        diag.message = std::move(dup);
        return error::invalid_argument;
      }
    cfg.policy.nodes = cfg.endpoints.size();
    // A prefix-blind policy's per-node matches only reach the records up to this many nodes:
    // past it, matching every prompt against every node (a tenth of a 1,024-node rr run) is
    // work nobody reads.
    if (cfg.policy.nodes > epoch_settings{}.per_node_detail_max) cfg.policy.explain_matches = false;
    cfg.policy.seed = cfg.seed;  // one seed for the whole run: every policy, built-in or not, gets it
    if (auto ec = dispatch::check(cfg.policy, diag)) return ec;
    // Every name is checked before anything runs: not after earlier policies wrote outputs.
    if (cfg.policies.empty()) {
      diag.message = "no policy to run: give at least one name (known: " + policy_names() + ")";
      return error::invalid_argument;
    }
    for (const auto& name : cfg.policies) {
      bool known = cfg.custom_policies.count(name) > 0;
      for (const auto& p : dispatch::known_policies()) known |= p.name == name;
      if (!known) {
        diag.message = "unknown policy '" + name + "' (known: " + policy_names() + ")";
        return error::invalid_argument;
      }
    }
    if (vfleet)
      if (auto ec = check_memory(diag)) return ec;
    if (!cfg.api_key.empty()) {
      auth_value = "Bearer " + cfg.api_key;
      auth.push_back({"Authorization", auth_value});
    }
    for (std::size_t k = 0; k < cfg.endpoints.size(); ++k) {
      node nd;
      nd.name = "node_" + std::to_string(k);
      nd.url = cfg.endpoints[k];
      while (!nd.url.empty() && nd.url.back() == '/') nd.url.pop_back();
      nodes.push_back(std::move(nd));
    }
    return {};
  }

  /// Virtual time: refuses, before anything runs, a run whose estimated peak memory is more
  /// than the machine has (or than run_config::memory_limit_bytes), naming the flags that
  /// bound it.
  boost::system::error_code check_memory(diagnostics& diag) const {
    double out_sum = 0;
    for (std::size_t i = 0; i < n && i < data.prompts.size(); ++i) out_sum += max_tokens_of(i);
    double mean_out = n > 0 && !data.prompts.empty() ? out_sum / static_cast<double>(std::min(n, data.prompts.size()))
                                                     : static_cast<double>(cfg.max_new_tokens);
    bool models_blocks = false;
    for (const auto& p : cfg.policies)
      models_blocks |= p != "rr" && p != "random" && p != "least-loaded" && p != "p2c" && p != "session";
    const auto est = estimate_virtual_memory(n, mean_out, vfleet->size(),
                                             vfleet->engine(0).config().num_gpu_blocks,
                                             cfg.keep_records ? cfg.policies.size() : 1, models_blocks);
    const auto limit = cfg.memory_limit_bytes > 0 ? std::optional<std::uint64_t>(cfg.memory_limit_bytes) : available_memory();
    if (!limit || est.total <= *limit) return {};
    diag.message = "virtual time: " + std::to_string(n) + " requests on " + std::to_string(vfleet->size()) +
                   " nodes would need about " + est.describe() + ", more than the " + format_bytes(*limit) +
                   " available; send fewer requests per epoch with --maxq, or run fewer nodes with --num-nodes";
    return error::not_enough_memory;
  }

  /// Whether every prompt came from a trace (the trace then sets arrivals and lengths).
  bool from_trace() const noexcept {
    return n > 0 && conversations.empty() && std::all_of(data.prompts.begin(), data.prompts.begin() + static_cast<std::ptrdiff_t>(n),
                                [](const workload::prompt& p) { return p.from_trace.has_value(); });
  }

  /// The send times: a trace's timestamps (from its first request, times time_scale), or the
  /// arrival process.
  boost::system::error_code make_schedule(const workload::arrival_config& ac, diagnostics& diag) {
    if (cfg.trace_arrivals && from_trace()) {
      if (!(cfg.time_scale > 0) || !std::isfinite(cfg.time_scale)) {
        diag.message = "time scale must be a positive number (0.1 replays a trace ten times faster)";
        return error::invalid_argument;
      }
      const double t_first = data.prompts[0].from_trace->timestamp_ms;
      schedule.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        const double at_s = (data.prompts[i].from_trace->timestamp_ms - t_first) / 1000.0 * cfg.time_scale;
        if (!(at_s <= 1e9)) {  // past ~30 years the clock's nanosecond ticks would overflow
          diag.message = data.source + ":" + std::to_string(data.prompts[i].line) +
                         ": the trace's timestamps span more than 1e9 seconds at this time scale";
          return error::invalid_argument;
        }
        schedule[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(at_s));
      }
      return {};
    }
    // Conversations: the arrival process spaces the sessions; their later turns follow replies.
    auto arr = workload::make_arrivals(conversations.empty() ? n : conversations.size(), ac, diag);
    if (!arr) return arr.error();
    schedule = std::move(*arr);
    return {};
  }

  /// Output tokens request `i` asks for: its trace's output_length, else the run's.
  std::uint32_t max_tokens_of(std::size_t i) const noexcept {
    const auto& t = data.prompts[i].from_trace;
    return t ? t->output_length : cfg.max_new_tokens;
  }

  void build_bodies() {
    if (!conversations.empty()) {
      openai::request_options so;
      so.model = model;
      so.max_tokens = cfg.max_new_tokens;
      so.stream = true;
      so.include_usage = true;
      if (cfg.ignore_eos) so.ignore_eos = true;
      so.temperature = 0.0;
      sessions.emplace(conversations, schedule, so, cfg.api == api_kind::chat, routing_tokenizer(), cfg.history,
                       cfg.think_time, cfg.seed);
      return;
    }
    bodies.assign(n, {});
    if (!vfleet)
      for (std::size_t i = 0; i < n; ++i) build_body(i, bodies[i]);
  }

  /// The routing tokenizer: the run's, else the approximate one.
  const tokenize::tokenizer& routing_tokenizer() const { return cfg.tokenizer ? *cfg.tokenizer : *approx_tok; }

  /// Request `i`'s routing tokens, made now if they are not yet (virtual time).
  std::span<const tokenize::token_id> tokens_of(std::size_t i) {
    if (!tokens[i].empty()) return tokens[i];
    if (cfg.server_tokens && !data.prompts[i].text.empty()) {
      cfg.server_tokens(data.prompts[i], tokens[i]);
    } else if (cfg.server_tokens) {
      // A trace's prompt keeps no text in virtual time: made for this call.
      workload::prompt p = data.prompts[i];
      p.text = std::string(data.prompt_text(i, text_scratch));
      cfg.server_tokens(p, tokens[i]);
    } else {
      routing_tokenizer().encode(data.prompt_text(i, text_scratch), tokens[i]);
    }
    return tokens[i];
  }

  /// Virtual time: request `i` is done with; its tokens and body go.
  void forget(std::size_t i) {
    if (!vfleet || sessions) return;
    std::vector<tokenize::token_id>().swap(tokens[i]);
    std::string().swap(bodies[i]);
  }

  /// The sampling and streaming options of request `i`'s body.
  openai::request_options options_of(std::size_t i) const {
    openai::request_options opt;
    opt.model = model;
    opt.stream = true;
    opt.include_usage = true;
    opt.temperature = 0.0;
    if (const auto& t = data.prompts[i].from_trace) {
      // The trace's output length exactly: vLLM's min_tokens with ignore_eos.
      opt.max_tokens = opt.min_tokens = t->output_length;
      opt.ignore_eos = true;
    } else {
      opt.max_tokens = cfg.max_new_tokens;
      if (cfg.ignore_eos) opt.ignore_eos = true;
    }
    return opt;
  }

  /// Writes request `i`'s body into `out`.
  void build_body(std::size_t i, std::string& out) {
    const openai::request_options opt = options_of(i);
    const auto& p = data.prompts[i];
    if (cfg.api == api_kind::chat) {
      std::vector<openai::message_view> msgs;
      if (p.messages.empty()) {
        msgs.push_back({"user", data.prompt_text(i, text_scratch)});
      } else {
        for (const auto& m : p.messages) msgs.push_back({m.role, m.content});
      }
      openai::build_chat_body(opt, msgs, out);
    } else {
      openai::build_completions_body(opt, data.prompt_text(i, text_scratch), out);
    }
  }

  boost::system::error_code make_clients(diagnostics& diag) {
    for (auto& nd : nodes) {
      if (nd.requests) continue;
      http::client_config rc;
      rc.max_connections = cfg.max_connections_per_node;
      rc.read_timeout = to_ms(cfg.request_timeout);
      rc.total_timeout = to_ms(cfg.request_timeout);
      rc.ca_file = cfg.ca_file;
      rc.insecure = cfg.insecure;
      // The client's own resend of a request whose pooled connection had died is a retry too:
      // counted in the record, and off with max_retries 0.
      rc.resend_on_stale = cfg.max_retries > 0;
      auto r = http::client::create(ex, nd.url, rc, diag);
      if (!r) {
        diag.message = nd.name + " " + nd.url + ": " + diag.message;
        return r.error();
      }
      nd.requests.emplace(std::move(*r));
      http::client_config pc = rc;
      pc.resend_on_stale = true;  // GETs: always safe to send again
      pc.max_connections = 4;
      pc.connect_timeout = std::chrono::seconds(3);
      pc.read_timeout = std::chrono::seconds(3);
      pc.total_timeout = std::chrono::seconds(5);
      auto p = http::client::create(ex, nd.url, pc, diag);
      if (!p) return p.error();
      nd.probe.emplace(std::move(*p));
    }
    return {};
  }

  // ---- preflight -----------------------------------------------------------------------

  // `problems` says what is wrong, `kinds` (in step) which error code each one is.
  asio::awaitable<void> check_node(std::size_t k, std::vector<std::string>& problems,
                                   std::vector<boost::system::error_code>& kinds,
                                   std::vector<std::vector<std::string>>& models) {
    auto& nd = nodes[k];
    const std::string who = nd.name + " (" + nd.url + ")";
    diagnostics d;
    // /health by hand rather than openai::async_health: the status itself goes in the message.
    auto health = co_await nd.probe->async_fetch(http::client_request::get("/health", auth), d);
    if (!health) {
      problems.push_back(who + ": /health: " + (d.empty() ? health.error().message() : d.message) +
                         (health.error() == error::connection_failed || health.error() == error::timeout
                              ? " (is the server running and reachable?)"
                              : ""));
      kinds.push_back(health.error());
      co_return;
    }
    if (health->status != 200) {
      problems.push_back(who + ": /health answered HTTP " + std::to_string(health->status) +
                         " (the server is not ready)");
      kinds.push_back(error::node_not_ready);
      co_return;
    }
    d.clear();
    auto ms = co_await openai::async_list_models(*nd.probe, cfg.api_key, d);
    if (!ms) {
      problems.push_back(who + ": /v1/models: " + (d.empty() ? ms.error().message() : d.message) +
                         (ms.error() == error::unauthorized
                              ? " (give the server's key with --api-key, OPENAI_API_KEY or VLLM_API_KEY)"
                              : ""));
      kinds.push_back(ms.error());
      co_return;
    }
    models[k] = std::move(*ms);
    // Cache size for the prefix index, when the page shows vllm:cache_config_info.
    d.clear();
    auto page = co_await nd.probe->async_fetch(http::client_request::get("/metrics", auth), d);
    if (page && page->status == 200) {
      if (auto snap = prom::parse_vllm_snapshot(page->body); snap && snap->num_gpu_blocks)
        nd.cache_blocks = planetserve::detail::checked_cast<std::size_t>(*snap->num_gpu_blocks);  // unknown when out of range
    } else {
      // The monitor would say the same on its first scrape: once per node is enough.
      nd.scrape_warned = true;
      log << "pswm: warning: " << who << ": /metrics not readable now ("
          << (page ? "HTTP " + std::to_string(page->status) : d.message)
          << "); server-side numbers will have gaps (warned once per node)\n";
    }
  }

  /// A virtual run's preflight: the model its engines serve, their cache sizes, the folder.
  boost::system::error_code virtual_preflight(diagnostics& diag) {
    if (!cfg.model.empty() && cfg.model != vfleet->model()) {
      diag.message = "the virtual nodes serve model '" + planetserve::detail::sanitized(vfleet->model(), 200) +
                     "', not '" + planetserve::detail::sanitized(cfg.model, 200) + "'";
      return error::model_not_served;
    }
    model = vfleet->model();
    for (std::size_t k = 0; k < nodes.size(); ++k) nodes[k].cache_blocks = vfleet->engine(k).config().num_gpu_blocks;
    return ensure_writable_dir(cfg.output_dir, diag);
  }

  asio::awaitable<boost::system::error_code> preflight(diagnostics& diag) {
    if (vfleet) co_return virtual_preflight(diag);
    if (auto ec = make_clients(diag)) co_return ec;
    std::vector<std::string> problems;
    std::vector<boost::system::error_code> kinds;
    std::vector<std::vector<std::string>> models(nodes.size());
    wait_group wg(ex);
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      wg.add();
      asio::co_spawn(
          ex,
          [this, k, &problems, &kinds, &models, &wg]() -> asio::awaitable<void> {
            co_await check_node(k, problems, kinds, models);
            wg.done();
          },
          on_task_end(&wg));
    }
    co_await wg.wait();
    if (problems.empty()) {
      if (cfg.model.empty()) {
        if (models[0].empty()) {
          problems.push_back(nodes[0].name + " (" + nodes[0].url + "): /v1/models lists no model; give --model");
          kinds.push_back(error::model_not_served);
        } else {
          model = models[0][0];
        }
      } else {
        model = cfg.model;
      }
      for (std::size_t k = 0; k < nodes.size() && !model.empty(); ++k) {
        if (std::find(models[k].begin(), models[k].end(), model) == models[k].end()) {
          std::string have;
          for (const auto& m : models[k]) have += (have.empty() ? "" : ", ") + m;
          problems.push_back(nodes[k].name + " (" + nodes[k].url + ") does not serve model '" + model +
                             "' (it serves: " + (have.empty() ? "nothing" : have) + ")");
          kinds.push_back(error::model_not_served);
        }
      }
    }
    diagnostics wd;
    if (auto ec = ensure_writable_dir(cfg.output_dir, wd)) {
      problems.push_back(wd.message);
      kinds.push_back(ec);
    }
    if (!problems.empty()) {
      diag.message = "preflight found " + std::to_string(problems.size()) + " problem(s):";
      // Problems quote servers (error bodies, model ids): made safe for the terminal.
      for (const auto& p : problems) diag.message += "\n  - " + planetserve::detail::sanitized(redact(p), 2000);
      // Problems of one kind return its code (connection_failed, unauthorized, model_not_served...).
      const bool one_kind = std::all_of(kinds.begin(), kinds.end(), [&](const auto& e) { return e == kinds.front(); });
      co_return one_kind && !kinds.empty() ? kinds.front() : make_error_code(error::preflight_failed);
    }
    co_return boost::system::error_code{};
  }

  // ---- monitoring ----------------------------------------------------------------------

  /// One line of metrics_timeline.jsonl: a scrape's snapshot, or why it failed.
  void stream_scrape(const node& nd, const node_sample* sample, std::string_view why) {
    if (!timeline_log.is_open()) return;
    std::string line = "{\"node\":";
    openai::append_json_string(line, nd.name);
    line += ",\"epoch\":" + std::to_string(epoch) + ",\"t_s\":";
    planetserve::detail::append_python_float(line, sample ? sample->t_s : offset_s + now_s());
    if (sample) {
      line += ",\"snapshot\":" + prom::to_json(sample->snap);
    } else {
      line += ",\"error\":";
      openai::append_json_string(line, why);
    }
    line += '}';
    write_line(timeline_log, timeline_log_failed, line);
  }

  /// A scraped page of node `k`, read at `t_s` (run time): into the timeline, the
  /// timeline file and the policy; a page that is malformed or not vLLM's is a failed scrape.
  void on_scrape(std::size_t k, double t_s, const result<prom::vllm_snapshot>& snap, const diagnostics& parse) {
    auto& nd = nodes[k];
    if (!snap) return on_scrape_failure(k, "malformed page: " + parse.message);
    // Zeros from a page that is not vLLM's would pass for an idle server.
    if (!snap->has_vllm()) return on_scrape_failure(k, "the page has no vLLM metrics (is this a vLLM server?)");
    nd.timeline.samples.push_back({t_s, *snap});
    stream_scrape(nd, &nd.timeline.samples.back(), {});
    policy->on_load(static_cast<dispatch::node_index>(k),
                    dispatch::live_load{snap->num_running, snap->num_waiting, snap->kv_cache_usage});
  }

  /// A scrape of node `k` that failed: counted, in the timeline file, said once per node.
  void on_scrape_failure(std::size_t k, std::string why) {
    auto& nd = nodes[k];
    why = planetserve::detail::sanitized(why);
    stream_scrape(nd, nullptr, why);
    ++nd.timeline.failed_scrapes;
    if (nd.timeline.first_failure.empty()) nd.timeline.first_failure = why;
    if (!nd.scrape_warned) {
      nd.scrape_warned = true;
      log << "\npswm: warning: " << nd.name << " (" << nd.url << "/metrics): " << why
          << "; the timeline will have gaps (warned once per node)\n";
    }
  }

  asio::awaitable<void> monitor(std::size_t k, wait_group& wg) {
    auto& nd = nodes[k];
    asio::steady_timer timer(ex);
    const auto period = std::chrono::duration_cast<http::clock::duration>(cfg.metrics_interval);
    // Every node is scraped at once at the start (the counters' baseline); after that node
    // k's scrapes are offset by k/n of a period, so the fleet's pages do not all arrive (and
    // get parsed, and rendered by an emulator) in one burst that delays the requests' timing.
    auto next = http::clock::now() + (period * static_cast<http::clock::rep>(k)) / static_cast<http::clock::rep>(nodes.size());
    // One last scrape after the epoch ends, so the final counters are in.
    bool last = false;
    while (true) {
      diagnostics d;
      auto page = co_await nd.probe->async_fetch(http::client_request::get("/metrics", auth), d);
      if (!page) {
        on_scrape_failure(k, d.empty() ? page.error().message() : d.message);
      } else if (page->status != 200) {
        on_scrape_failure(k, "HTTP " + std::to_string(page->status));
      } else {
        diagnostics pd;
        auto snap = co_await async_parse_vllm_page(ex, page->body, pd);
        on_scrape(k, offset_s + seconds_between(t0, page->last_byte), snap, pd);
      }
      if (last || stop_monitors) break;
      next += period;
      const auto now = http::clock::now();
      if (next < now) next = now;  // a slow scrape: skip ahead rather than burst
      timer.expires_at(next);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (epoch_over) last = true;
    }
    wg.done();
  }
  bool stop_monitors = false;

  // ---- one epoch: epoch_core's actions carried out on sockets and the steady clock -------

  /// The run's prepared requests as the core sees them.
  struct prepared_source final : request_source {
    state& s;
    explicit prepared_source(state& st) : s(st) {}
    std::size_t size() const noexcept override { return s.n; }
    epoch_time due(std::size_t i) const override { return s.schedule[i]; }
    dispatch::request_view view(std::size_t i) override { return {s.tokens_of(i), static_cast<std::uint64_t>(i)}; }
    void describe(std::size_t i, request_record& rec) const override { s.describe(i, rec); }
  };

  /// What a record says about request `i` itself.
  void describe(std::size_t i, request_record& rec) const {
    rec.query_id = i;
    rec.dataset_line = cfg.prompts.empty() ? data.prompts[i].line : 0;
    rec.max_tokens = max_tokens_of(i);
    if (const auto& t = data.prompts[i].from_trace) {
      rec.trace_input_length = t->input_length;
      rec.trace_hash_ids = t->hash_ids;
    }
  }

  /// Node names for the core's messages.
  std::vector<std::string> node_labels() const {
    std::vector<std::string> labels;
    for (const auto& nd : nodes) labels.push_back(nd.name + " (" + nd.url + ")");
    return labels;
  }

  /// Request `i`'s body as sent.
  std::string_view body_of(std::size_t i) {
    if (sessions) return sessions->body(i);
    if (bodies[i].empty()) build_body(i, bodies[i]);
    return bodies[i];
  }
  /// Tokens of request `i`'s prompt as routed (the fallback prompt count).
  std::size_t routed_tokens_of(std::size_t i) { return sessions ? sessions->view(i).tokens.size() : tokens[i].size(); }

  epoch_time now_ns() const { return std::chrono::duration_cast<epoch_time>(http::clock::now() - t0); }

  /// Carries out every action the core has, then wakes the driver to re-arm at the next wake.
  void pump() {
    if (!core) return;
    while (auto a = core->pop_action()) {
      switch (a->what) {
        case epoch_action::kind::send:
          tasks->add();
          asio::co_spawn(ex, send(a->request, a->node), on_task_end(tasks));
          break;
        case epoch_action::kind::check_health:
          tasks->add();
          asio::co_spawn(ex, check_health(a->node), on_task_end(tasks));
          break;
        case epoch_action::kind::record:
          write_line(requests_log, log_failed, record_line(core->record(a->request)));
          break;
        case epoch_action::kind::message:
          log << "\npswm: " << a->text << "\n";
          break;
        case epoch_action::kind::abandon:
          for (auto& nd : nodes) nd.requests->shutdown();
          break;
        case epoch_action::kind::over:
          break;
      }
    }
    if (driver) driver->cancel();
  }

  /// An attempt's measurements, times since the epoch's start.
  attempt_result attempt_of(openai::stream_result& out, std::size_t i) {
    attempt_result a;
    const auto at = [&](http::clock::time_point tp) { return tp == http::clock::time_point{} ? missing : seconds_between(t0, tp); };
    const auto sent = out.sent != http::clock::time_point{} ? out.sent : out.start;
    a.sent_s = at(sent);
    a.absolute_start = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
                       seconds_between(sent, http::clock::now());
    a.resent = out.resent;
    a.first_token_s = out.first_token ? at(*out.first_token) : missing;
    a.finished_s = out.last_byte != http::clock::time_point{} ? at(out.last_byte) : now_s();
    a.chunk_s.reserve(out.chunk_times.size());
    for (auto tp : out.chunk_times) a.chunk_s.push_back(at(tp));
    a.http_status = static_cast<int>(out.status);
    a.finish_reason = out.finish_reason;
    a.response_id = out.response_id;
    a.served_by = out.served_by;
    if (out.usage) {
      a.usage_reported = true;
      // A record holds 32-bit counts; a server's larger one (nonsense) is kept at the most it can hold.
      a.prompt_tokens = planetserve::detail::saturate_cast<std::uint32_t>(out.usage->prompt_tokens);
      a.completion_tokens = planetserve::detail::saturate_cast<std::uint32_t>(out.usage->completion_tokens);
      if (out.usage->cached_tokens) a.cached_tokens = planetserve::detail::saturate_cast<std::uint32_t>(*out.usage->cached_tokens);
    } else {
      a.prompt_tokens = planetserve::detail::saturate_cast<std::uint32_t>(routed_tokens_of(i));
      a.completion_tokens = planetserve::detail::saturate_cast<std::uint32_t>(out.content_chunks);
    }
    a.ok = out.ok();
    if (!a.ok) {
      a.error = redact(out.error_text.empty() ? out.error.message() : out.error_text);
      a.error_kind = failure_kind(out);
      a.node_unreachable = node_unreachable(out);
      a.retryable = retryable(out);
    }
    a.reply = std::move(out.text);
    return a;
  }

  asio::awaitable<void> send(std::size_t i, dispatch::node_index k) {
    openai::stream_result out;
    openai::call c;
    c.kind = cfg.api == api_kind::chat ? openai::api::chat : openai::api::completions;
    c.body = body_of(i);
    c.api_key = cfg.api_key;
    c.keep_text = source->keeps_reply(i);
    co_await openai::async_stream_completion(*nodes[k].requests, c, out, {});
    core->on_attempt_end(i, attempt_of(out, i), now_ns());
    pump();
    tasks->done();
  }

  asio::awaitable<void> check_health(dispatch::node_index k) {
    diagnostics d;
    auto r = co_await nodes[k].probe->async_fetch(http::client_request::get("/health", auth), d);
    const bool ok = r && r->status == 200;
    const std::string why = r ? "answered HTTP " + std::to_string(r->status)
                              : "failed: " + redact(d.empty() ? r.error().message() : d.message);
    core->on_health(k, ok, why, now_ns());
    pump();
    tasks->done();
  }

  // ---- progress ------------------------------------------------------------------------

  /// Hands the epoch's counts to the progress sink every second (and once at the end).
  asio::awaitable<void> progress() {
    asio::steady_timer timer(ex);
    progress_timer = &timer;
    std::size_t last_sent = 0;
    auto last_t = http::clock::now();
    while (!epoch_over) {
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      // requests.jsonl is flushed by time, not per line: the tail reaches the OS here.
      write_line(requests_log, log_failed, {});
      write_line(timeline_log, timeline_log_failed, {});
      const auto now = http::clock::now();
      report_progress(epoch_over, static_cast<double>(core->progress().sent - last_sent) / seconds_between(last_t, now));
      last_sent = core->progress().sent;
      last_t = now;
    }
    progress_timer = nullptr;
    tasks->done();
  }

  void report_progress(bool final, double rate) {
    if (!cfg.progress || !core) return;
    progress_report r;
    r.policy = policy->name();
    r.epoch = epoch;
    r.counts = core->progress();
    r.rate_per_s = rate;
    r.virtual_time = cfg.virtual_time;
    r.final = final;
    if (!core->ttfts().empty()) {
      std::vector<double> sorted = core->ttfts();
      std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
      r.p50_ttft_s = sorted[sorted.size() / 2];
    }
    if (cfg.on_progress) {
      cfg.on_progress(r);
    } else if (!final && ++plain_ticks % 5 == 0) {
      log << progress_text(r) << "\n";  // plain lines every 5 s, no terminal codes
    }
  }

  asio::awaitable<void> run_epoch(std::vector<request_record>& all) {
    epoch_over = false;
    stop_monitors = false;
    plain_ticks = 0;
    prepared_source prepared(*this);
    if (sessions) sessions->reset();
    source = sessions ? static_cast<request_source*>(&*sessions) : &prepared;
    core.emplace(settings(), *policy, *source, node_labels(), epoch);
    t0 = http::clock::now();

    wait_group monitors(ex);
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      monitors.add();
      asio::co_spawn(ex, monitor(k, monitors), on_task_end(&monitors));
    }
    wait_group running(ex);
    tasks = &running;
    running.add();
    asio::co_spawn(ex, progress(), on_task_end(&running));

    asio::steady_timer timer(ex);
    driver = &timer;
    core->start(epoch_time{0}, std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    if (stop) core->request_stop(now_ns());
    pump();
    // Until the core says the epoch is over; a task that threw (its request never reports)
    // ends the wait once every other task is done.
    while (!core->over() && !(task_failure && running.count() <= 1)) {
      const auto wake = core->next_wake();
      timer.expires_at(wake ? t0 + std::chrono::duration_cast<http::clock::duration>(*wake) : http::clock::time_point::max());
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (stop && !core->stopping()) core->request_stop(now_ns());
      core->advance(now_ns());
      pump();
    }
    driver = nullptr;
    epoch_over = true;
    if (progress_timer) progress_timer->cancel();
    co_await running.wait();
    co_await monitors.wait();
    tasks = nullptr;
    report_progress(true, 0);

    // Requests never sent (stopped early) stay out of the records.
    for (auto& r : core->take_records()) all.push_back(std::move(r));
    core.reset();
    source = nullptr;
    offset_s += now_s() + 1.0;
  }

  // ---- one epoch in virtual time: the same core, in-process engines, a discrete-event clock ----

  asio::awaitable<void> run_epoch_virtual(std::vector<request_record>& all) {
    epoch_over = false;
    plain_ticks = 0;
    prepared_source prepared(*this);
    if (sessions) sessions->reset();
    source = sessions ? static_cast<request_source*>(&*sessions) : &prepared;
    core.emplace(settings(), *policy, *source, node_labels(), epoch);
    t0 = http::clock::now();
    // The engines' clock goes on from the last epoch: a gap of a second, as between real epochs.
    if (virtual_now.count() > 0) virtual_now += std::chrono::seconds(1);
    vfleet->set_origin(virtual_now);
    const double unix0 = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const bool chat = cfg.api == api_kind::chat;
    const epoch_time period = std::max(epoch_time{1}, std::chrono::duration_cast<epoch_time>(cfg.metrics_interval));
    const std::size_t nn = nodes.size();
    // As the real monitor: every node at once at the start, then node k offset by k/n of a period.
    std::priority_queue<std::pair<epoch_time, std::size_t>, std::vector<std::pair<epoch_time, std::size_t>>,
                        std::greater<>>
        next_scrape;
    // The snapshot a parse of the node's page would give, without writing and parsing the
    // page (a test holds the two equal): at a thousand nodes pages were most of the run.
    const auto scrape = [&](std::size_t k, epoch_time at) {
      on_scrape(k, offset_s + std::chrono::duration<double>(at).count(), vfleet->snapshot(k), diagnostics{});
    };
    std::vector<std::pair<std::size_t, attempt_result>> ended;
    epoch_time now{0};
    // A policy that routes on KV-cache events gets each node's batches as its steps end; the
    // engines' caches and its index start this epoch the same (both empty, or both reset).
    auto* kv_sink = dynamic_cast<dispatch::kv_event_sink*>(policy);
    if (kv_sink && vfleet->engine(0).config().enable_kv_cache_events)
      for (std::size_t k = 0; k < nn; ++k) kv_sink->on_kv_synced(static_cast<dispatch::node_index>(k));
    const auto report_ended = [&] {
      for (auto& b : vfleet->take_kv_batches())
        if (kv_sink) kv_sink->on_kv_batch(static_cast<dispatch::node_index>(b.node), b.batch);
      for (auto& [i, a] : ended) {
        if (std::isfinite(a.absolute_start)) a.absolute_start += unix0;
        core->on_attempt_end(i, std::move(a), now);
      }
      ended.clear();
    };
    const auto carry_out = [&] {
      while (true) {
        while (auto a = core->pop_action()) {
          switch (a->what) {
            case epoch_action::kind::send: {
              // The routing tokens are the node's own: handed over as they are, not as a body
              // the engine would parse and tokenize again.
              const bool keep = source->keeps_reply(a->request);
              const auto toks = routing_tokens_are_nodes && !sessions ? tokens_of(a->request)
                                                                      : std::span<const tokenize::token_id>{};
              auto refused = !toks.empty()
                                 ? vfleet->send_tokens(a->request, a->node, {toks.begin(), toks.end()},
                                                       options_of(a->request), now, keep)
                                 : vfleet->send(a->request, a->node, body_of(a->request), chat, now, keep);
              if (refused) ended.emplace_back(a->request, std::move(*refused));
              break;
            }
            case epoch_action::kind::check_health:
              core->on_health(a->node, true, {}, now);  // an in-process engine is always up
              break;
            case epoch_action::kind::record:
              write_line(requests_log, log_failed, record_line(core->record(a->request)));
              forget(a->request);
              break;
            case epoch_action::kind::message:
              log << "\npswm: " << a->text << "\n";
              break;
            case epoch_action::kind::abandon:
              vfleet->abandon(now, ended);
              break;
            case epoch_action::kind::over:
              break;
          }
        }
        if (ended.empty()) break;
        report_ended();
      }
    };
    core->start(now, unix0);
    for (std::size_t k = 0; k < nn; ++k) {
      scrape(k, now);
      next_scrape.push({(period * static_cast<epoch_time::rep>(k)) / static_cast<epoch_time::rep>(nn) + period, k});
    }
    carry_out();
    auto wall_mark = http::clock::now();
    std::size_t last_sent = 0;
    for (std::uint64_t turn = 0; !core->over(); ++turn) {
      if (stop && !core->stopping()) {
        core->request_stop(now);
        carry_out();
        continue;
      }
      std::optional<epoch_time> next = core->next_wake();
      if (auto e = vfleet->next_event(); e && (!next || *e < *next)) next = e;
      if (!next) {
        // Nothing will ever happen again, yet requests are in flight: a bug, said and ended.
        log << "\npswm: internal error: the virtual clock has no next event with requests in flight\n";
        core->request_stop(now);
        vfleet->abandon(now, ended);
        carry_out();
        if (!core->over()) break;
        continue;
      }
      // Scrapes due before the next event happen first, in time order.
      while (!core->over() && next_scrape.top().first <= *next) {
        const auto [at, k] = next_scrape.top();
        next_scrape.pop();
        now = at;
        vfleet->advance(now, ended);  // engines up to the scrape's time first
        report_ended();
        carry_out();
        scrape(k, now);
        next_scrape.push({at + period, k});
      }
      if (core->over()) break;
      now = std::max(now, *next);
      vfleet->advance(now, ended);
      report_ended();
      core->advance(now);
      carry_out();
      // Now and then the io_context gets a turn: a signal (Ctrl-C) is seen and stops the run.
      if ((turn & 1023) == 0) co_await asio::post(ex, asio::use_awaitable);
      if ((turn & 1023) == 0 && http::clock::now() - wall_mark >= std::chrono::seconds(1)) {
        const auto w = http::clock::now();
        report_progress(false, static_cast<double>(core->progress().sent - last_sent) / seconds_between(wall_mark, w));
        last_sent = core->progress().sent;
        wall_mark = w;
        // requests.jsonl is flushed by time, not per line.
        write_line(requests_log, log_failed, {});
        write_line(timeline_log, timeline_log_failed, {});
      }
    }
    // One last scrape, so the final counters are in.
    for (std::size_t k = 0; k < nn; ++k) scrape(k, now);
    epoch_over = true;
    report_progress(true, 0);
    for (auto& r : core->take_records()) all.push_back(std::move(r));
    core.reset();
    source = nullptr;
    virtual_now += now;
    offset_s += std::chrono::duration<double>(now).count() + 1.0;
  }

  /// The core's settings, from the run's.
  epoch_settings settings() const {
    const auto ns = [](std::chrono::duration<double> d) { return std::chrono::duration_cast<epoch_time>(d); };
    epoch_settings e;
    e.max_concurrency = cfg.max_concurrency;
    e.max_connections_per_node = cfg.max_connections_per_node;
    e.max_retries = cfg.max_retries;
    e.retry_backoff = ns(cfg.retry_backoff);
    e.breaker_failures = cfg.breaker_failures;
    e.no_node_wait = ns(cfg.no_node_wait);
    e.health_interval = ns(cfg.health_interval);
    e.drain_timeout = ns(cfg.drain_timeout);
    return e;
  }

  // ---- between epochs and policies -----------------------------------------------------

  // A policy that wants the nodes' KV events (kv_event_sink) gets a subscriber for its run.
  std::unique_ptr<kv_event_subscriber> start_kv_events(const std::string& name) {
    auto* sink = dynamic_cast<dispatch::kv_event_sink*>(policy);
    if (!sink || vfleet) return nullptr;  // virtual time hands the engines' events over in-process
    if (cfg.kv_events.size() != nodes.size()) {
      log << "pswm: " << name << ": no KV-events endpoints (--kv-events-endpoints, or --sim): every node is "
          << "judged by lb's model (decisions: precise-fallback)\n";
      return nullptr;
    }
    std::vector<std::string> names;
    for (const auto& nd : nodes) names.push_back(nd.name);
    auto sub = std::make_unique<kv_event_subscriber>(ex, cfg.kv_events, *sink, std::move(names), log);
    sub->start();
    return sub;
  }

  asio::awaitable<void> reset_prefix_caches() {
    if (vfleet) {
      // Between epochs nothing is in flight: every engine takes the reset.
      (void)vfleet->reset_prefix_caches();
      co_return;
    }
    for (auto& nd : nodes) {
      diagnostics d;
      auto r = co_await nd.probe->async_fetch(
          http::client_request::post("/reset_prefix_cache", "application/json", "", auth), d);
      if (r && r->status == 200) continue;
      if (!nd.reset_warned) {
        nd.reset_warned = true;
        log << "pswm: warning: " << nd.name << " (" << nd.url << ") did not reset its prefix cache ("
            << (r ? "HTTP " + std::to_string(r->status) : d.message)
            << "). vLLM serves POST /reset_prefix_cache only with VLLM_SERVER_DEV_MODE=1; otherwise restart "
               "the servers between runs to start from a cold cache.\n";
      }
    }
  }

  // ---- outputs -------------------------------------------------------------------------

  std::string run_json(const std::string& policy_name) const {
    json::object o;
    o["pswm_version"] = planetserve::version_string;
    o["policy"] = policy_name;
    o["model"] = model;
    o["api"] = cfg.api == api_kind::chat ? "chat" : "completions";
    json::array eps;
    for (const auto& e : cfg.endpoints) eps.push_back(json::value(e));
    o["endpoints"] = std::move(eps);
    o["api_key"] = cfg.api_key.empty() ? json::value(nullptr) : json::value("<redacted>");
    o["dataset_file"] = cfg.dataset_file.string();
    if (!cfg.prompts.empty()) o["dataset_in_memory"] = true;
    if (from_trace()) {
      o["dataset_format"] = "mooncake";
      o["trace_block_tokens"] = cfg.dataset.trace_block_tokens;
      o["trace_arrivals"] = cfg.trace_arrivals;
      o["time_scale"] = cfg.time_scale;
    }
    o["dataset_field"] = cfg.dataset.field;
    if (!conversations.empty()) {
      o["dataset_format"] = "sessions";
      o["sessions"] = conversations.size();
      o["history"] = cfg.history == history_mode::live ? "live" : "dataset";
      o["think_time"] = to_string(cfg.think_time);
    }
    o["requests_per_epoch"] = n;
    o["maxq"] = cfg.maxq;
    o["arrival"] = std::string(workload::to_string(cfg.arrival));
    o["average_interval_s"] = cfg.average_interval_s;
    o["burstiness"] = cfg.burstiness;
    o["seed"] = cfg.seed;
    o["max_new_tokens"] = cfg.max_new_tokens;
    o["ignore_eos"] = cfg.ignore_eos;
    o["epochs"] = cfg.epochs;
    // Virtual time: every time in the outputs is simulated seconds of in-process engines.
    o["clock"] = vfleet ? "virtual" : "real";
    if (vfleet) o["virtual_nodes"] = vfleet->size();
    o["metrics_interval_s"] = cfg.metrics_interval.count();
    o["request_timeout_s"] = cfg.request_timeout.count();
    o["max_connections_per_node"] = cfg.max_connections_per_node;
    o["max_retries"] = cfg.max_retries;
    o["retry_backoff_s"] = cfg.retry_backoff.count();
    o["breaker_failures"] = cfg.breaker_failures;
    o["no_node_wait_s"] = cfg.no_node_wait.count();
    if (cfg.goodput) o["goodput"] = to_string(*cfg.goodput);
    if (cfg.max_concurrency > 0) o["max_concurrency"] = cfg.max_concurrency;
    if (cfg.ramp_start_rps > 0) {
      o["ramp_start_rps"] = cfg.ramp_start_rps;
      o["ramp_end_rps"] = cfg.ramp_end_rps;
    }
    o["chunk_tokens"] = cfg.policy.tree.chunk_tokens;
    o["lb_memory"] = std::string(hrtree::to_string(cfg.policy.tree.memory));
    o["lb_min_match_ratio"] = cfg.policy.lb.min_match_ratio;
    o["lb_compat"] = std::string(dispatch::to_string(cfg.policy.lb.compat));
    const auto now = std::chrono::system_clock::now();
    o["started_unix_s"] = std::chrono::duration<double>(now.time_since_epoch()).count();
    return json::serialize(o);
  }

  asio::awaitable<boost::system::error_code> run_all(diagnostics& diag) {
    build_bodies();
    const std::string ds = dataset_label(cfg.dataset_file);
    const bool many = cfg.policies.size() > 1;
    bool first_run = true;
    for (const auto& name : cfg.policies) {
      if (stop) break;
      std::unique_ptr<dispatch::policy> pol;
      try {
        pol = make_named_policy(name);
      } catch (const std::exception& e) {
        diag.message = std::string("policy ") + name + ": " + e.what();
        co_return error::invalid_argument;
      }
      if (!pol) {
        diag.message = "policy '" + name + "': its factory made no policy";
        co_return error::invalid_argument;
      }
      policy = pol.get();
      for (std::size_t k = 0; k < nodes.size(); ++k)
        if (nodes[k].cache_blocks)
          policy->set_cache_capacity(static_cast<dispatch::node_index>(k), *nodes[k].cache_blocks);
      auto kv_events = start_kv_events(name);

      policy_result pr;
      pr.policy = name;
      pr.layout = make_output_layout(cfg.output_dir, ds, cfg.average_interval_s, many ? name : "");
      for (const auto& dir : {pr.layout.log_dir, pr.layout.fig_dir}) {
        auto moved = move_aside(dir, diag);
        if (!moved) co_return moved.error();
        if (*moved) log << "pswm: kept earlier results: moved " << dir.string() << " to " << (*moved)->string() << "\n";
      }
      if (auto ec = ensure_writable_dir(pr.layout.log_dir, diag)) co_return ec;
      if (auto ec = write_file_atomic(pr.layout.log_dir / "run.json", run_json(name), diag)) co_return ec;
      log_failed = timeline_log_failed = false;
      if (auto ec = requests_log.open(pr.layout.log_dir / "requests.jsonl", diag)) co_return ec;
      if (auto ec = timeline_log.open(pr.layout.log_dir / "metrics_timeline.jsonl", diag)) co_return ec;

      offset_s = 0;
      for (auto& nd : nodes) nd.timeline = node_timeline{nd.name, nd.url, {}, 0, {}};
      for (epoch = 0; epoch < cfg.epochs && !stop; ++epoch) {
        if (!first_run) {
          co_await reset_prefix_caches();
          policy->reset();
        }
        first_run = false;
        log << "pswm: " << name << ": epoch " << epoch + 1 << "/" << cfg.epochs << ": " << n
            << " requests to " << nodes.size() << " node(s), mean interval " << cfg.average_interval_s << " s\n";
        if (vfleet)
          co_await run_epoch_virtual(pr.records);
        else
          co_await run_epoch(pr.records);
        pr.epoch_starts.push_back(t0);
      }
      // From here on a file the disk refuses is noted and the rest still written: the
      // summary is printed whatever happens to the files.
      std::vector<std::string> unwritten;
      for (auto* lf : {&requests_log, &timeline_log}) {
        diagnostics d;
        if (lf->close(d)) unwritten.push_back(d.message);
      }
      for (auto& nd : nodes) pr.timelines.push_back(nd.timeline);
      fill_unreported_misses(pr.records);  // before experiment_results.json and the summary
      pr.summary = summarize(pr.records, pr.timelines, cfg.goodput);
      pr.summary.policy = name;
      pr.summary.dataset = ds;
      pr.summary.average_interval_s = cfg.average_interval_s;
      pr.summary.interrupted = stop;
      pr.summary.virtual_time = vfleet != nullptr;
      const double tick = std::max(cfg.metrics_interval.count(), 0.1);
      {
        diagnostics d;
        if (write_run_outputs(pr.records, pr.timelines, pr.summary, pr.layout, tick, cfg.render_figures, log, d))
          unwritten.push_back(d.message);
      }
      warn_skipped_readings(pr.summary, log);
      log << "\n" << summary_text(pr.summary);
      if (unwritten.empty()) {
        log << "Outputs: " << pr.layout.log_dir.string() << "/ and " << pr.layout.fig_dir.string() << "/\n\n";
      } else {
        log << "Outputs INCOMPLETE in " << pr.layout.log_dir.string() << "/ and " << pr.layout.fig_dir.string()
            << "/:\n";
        for (const auto& u : unwritten) log << "  - " << u << "\n";
        log << "\n";
        for (const auto& u : unwritten) incomplete.push_back(u);
      }
      pr.ttft_cdf = ttft_cdf(pr.records, name);
      pr.ttft_cdf.points = downsample(pr.ttft_cdf.points);  // what a chart would draw of it
      if (cfg.on_policy_done) cfg.on_policy_done(pr);
      // Written and summarized: without keep_records a long run holds one policy's records at a time.
      if (!cfg.keep_records) std::vector<request_record>().swap(pr.records);
      results.push_back(std::move(pr));
      if (kv_events) kv_events->stop();
      policy = nullptr;
      pol.reset();
    }
    if (many && results.size() > 1) {
      std::vector<run_summary> sums;
      for (const auto& r : results) sums.push_back(r.summary);
      const auto dir = cfg.output_dir / ("compare_" + ds + "_" + interval_label(cfg.average_interval_s));
      auto moved = move_aside(dir, diag);
      if (!moved) co_return moved.error();
      if (*moved) log << "pswm: kept earlier comparison: moved " << dir.string() << " to " << (*moved)->string() << "\n";
      const auto table = comparison_text(sums);
      {
        // As with each policy's files: the table is printed even when the disk refuses it.
        diagnostics d;
        if (ensure_writable_dir(dir, d) || write_file_atomic(dir / "compare.json", comparison_json(sums), d) ||
            write_file_atomic(dir / "compare.txt", table, d) ||
            write_charts(comparison_charts(sums), dir, cfg.render_figures, log, d))
          incomplete.push_back(d.message);
      }
      log << "===== comparison (" << ds << ", interval " << interval_label(cfg.average_interval_s) << ") =====\n"
          << table << "Comparison: " << dir.string() << "/\n";
    }
    for (auto& nd : nodes) {
      if (nd.requests) nd.requests->shutdown();
      if (nd.probe) nd.probe->shutdown();
    }
    if (task_failure) {
      // What was measured is written above; the run still fails, so a bug cannot pass for a result.
      try {
        std::rethrow_exception(task_failure);
      } catch (const std::exception& x) {
        diag.message = std::string("internal error: ") + x.what();
      } catch (...) {
        diag.message = "internal error: an unknown exception";
      }
      diag.message += " (the run was stopped; what finished before it is written)";
      co_return error::internal_error;
    }
    if (!incomplete.empty()) {
      diag.message = "outputs incomplete (the summary above was printed all the same):";
      for (const auto& u : incomplete) diag.message += "\n  - " + u;
      co_return error::file_unwritable;
    }
    co_return boost::system::error_code{};
  }
};

runner::runner(asio::any_io_executor ex, run_config config, std::ostream& log)
    : s_(std::make_unique<state>(std::move(ex), std::move(config), log)) {}
runner::~runner() = default;

boost::system::error_code runner::prepare(diagnostics& diag) { return s_->prepare(diag); }

// The wrappers are coroutines themselves: returning the inner awaitable directly lets GCC 12
// inline the frame allocation and warn falsely (-Wmismatched-new-delete).
asio::awaitable<boost::system::error_code> runner::async_preflight(diagnostics& diag) {
  co_return co_await s_->preflight(diag);
}

asio::awaitable<boost::system::error_code> runner::async_run(diagnostics& diag) {
  co_return co_await s_->run_all(diag);
}

void runner::request_stop() { s_->stop_run(); }

void runner::flush_request_log() noexcept {
  diagnostics d;
  (void)s_->requests_log.flush(d);
  (void)s_->timeline_log.flush(d);
}

bool runner::stop_requested() const noexcept { return s_->stop; }
const std::vector<policy_result>& runner::results() const noexcept { return s_->results; }
const std::string& runner::model() const noexcept { return s_->model; }
std::size_t runner::request_count() const noexcept { return s_->n; }

}  // namespace planetserve::experiment
