// SPDX-License-Identifier: MIT
// Compiled body of experiment::runner.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/detail/python_float.hpp>
#include <planetserve/detail/sanitize.hpp>
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/experiment/atomic_file.hpp>
#include <planetserve/experiment/cache_prediction.hpp>
#include <planetserve/experiment/metrics_page.hpp>
#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/run_charts.hpp>
#include <planetserve/experiment/run_outputs.hpp>
#include <planetserve/experiment/runner.hpp>
#include <planetserve/experiment/stats.hpp>
#include <planetserve/experiment/wait_group.hpp>
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
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <tuple>
#include <deque>
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
using clock = std::chrono::steady_clock;

namespace {

double seconds_between(clock::time_point from, clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::chrono::milliseconds to_ms(std::chrono::duration<double> d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

/// A short failure class for counting in the summary.
std::string failure_kind(const openai::outcome& o) {
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
bool node_unreachable(const openai::outcome& o) {
  return o.status == 0 && (o.error == error::connection_failed || o.error == error::connection_closed ||
                           o.error == error::timeout || o.error == error::tls_failed);
}

/// Whether the request can be sent again: the connection failed before any response byte,
/// so the server produced nothing for it (a timeout may mean it is still working: not retried).
bool retryable(const openai::outcome& o) {
  return o.status == 0 && !o.first_token &&
         (o.error == error::connection_failed || o.error == error::connection_closed);
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
    bool probing = false;                  // out: a /health prober runs until it answers 200
    bool suspect = false;                  // a connection failed: unavailable while /health is checked once
    std::size_t consecutive_failures = 0;  // connection failures and timeouts since the last response
    std::string out_reason;                // why it was last taken out
    bool scrape_warned = false;
    bool reset_warned = false;
    std::optional<std::size_t> cache_blocks;
    node_timeline timeline;
    // Requests at this node (at most max_connections_per_node), and those due that wait for
    // one of them to end: an index each, not a suspended coroutine and its buffers, so an
    // overloaded node costs a few bytes per waiting request.
    std::size_t active = 0;
    std::deque<std::size_t> backlog;
  };

  asio::any_io_executor ex;
  run_config cfg;
  std::ostream& log;
  bool tty = false;

  workload::dataset data;
  std::size_t n = 0;
  std::vector<std::vector<tokenize::token_id>> tokens;
  std::vector<std::string> bodies;
  std::vector<std::chrono::nanoseconds> schedule;
  std::string model;
  std::vector<node> nodes;
  std::vector<http::header_field> auth;
  std::string auth_value;
  std::vector<policy_result> results;

  bool stop = false;
  asio::steady_timer* sched_timer = nullptr;
  // The first exception that escaped a spawned task: the run stops and reports it.
  std::exception_ptr task_failure;

  // The policy and epoch being run.
  dispatch::policy* policy = nullptr;
  clock::time_point t0{};
  double offset_s = 0;
  std::size_t epoch = 0;
  std::vector<request_record> epoch_records;
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
  std::size_t sent = 0, completed = 0, failed = 0;
  std::vector<double> ttfts;
  bool epoch_over = false;
  // Coroutines that only sleep and look (progress, /health probers) must not outlive the
  // epoch that started them: run_epoch wakes their timers and waits for them at its end.
  wait_group* background = nullptr;
  std::vector<asio::steady_timer*> background_timers;
  // Requests waiting for any node to come back: woken when one does, or on a stop.
  std::vector<asio::steady_timer*> node_waiters;

  /// Registers a background coroutine's timer for the epoch's lifetime.
  struct background_task {
    state& s;
    asio::steady_timer& timer;
    background_task(state& st, asio::steady_timer& t) : s(st), timer(t) { s.background_timers.push_back(&t); }
    ~background_task() {
      std::erase(s.background_timers, &timer);
      s.background->done();
    }
  };

  state(asio::any_io_executor e, run_config c, std::ostream& l)
      : ex(std::move(e)), cfg(std::move(c)), log(l), tty(::isatty(1) == 1) {}

  double now_s() const { return seconds_between(t0, clock::now()); }

  /// Stops sending: what request_stop() and a failed task do.
  void stop_run() {
    stop = true;
    if (sched_timer) sched_timer->cancel();
    wake_node_waiters();
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
    if (cfg.endpoints.empty()) {
      diag.message = "no nodes: give --num-nodes and --base-port, or --endpoints";
      return error::invalid_argument;
    }
    // Read only as many prompts as an epoch sends.
    workload::dataset_config dc = cfg.dataset;
    if (cfg.maxq > 0 && (dc.max_prompts == 0 || dc.max_prompts > cfg.maxq)) dc.max_prompts = cfg.maxq;
    if (!cfg.prompts.empty()) {
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
    if (cfg.maxq > data.prompts.size())
      log << "pswm: --maxq " << cfg.maxq << " but " << data.source << " has only "
          << data.prompts.size() << " prompts: sending " << n << "\n";
    const tokenize::approx_tokenizer approx(tokenize::approx_tokenizer_config{.seed = cfg.policy.tree.seed});
    const tokenize::tokenizer& tok = cfg.tokenizer ? *cfg.tokenizer : approx;
    tokens.resize(n);
    for (std::size_t i = 0; i < n; ++i)
      if (cfg.server_tokens) cfg.server_tokens(data.prompts[i], tokens[i]);
      else tok.encode(data.prompts[i].text, tokens[i]);
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
    for (std::size_t k = 0; k < cfg.endpoints.size(); ++k) {
      diagnostics ud;
      if (!http::parse_url(cfg.endpoints[k], ud)) {
        diag.message = "endpoint " + std::to_string(k) + ": " + ud.message;
        return error::invalid_argument;
      }
    }
    if (!cfg.allow_duplicate_endpoints)
      if (auto dup = duplicate_endpoints(cfg.endpoints); !dup.empty()) {
        diag.message = std::move(dup);
        return error::invalid_argument;
      }
    cfg.policy.nodes = cfg.endpoints.size();
    cfg.policy.seed = cfg.seed;  // one seed for the whole run: every policy, built-in or not, gets it
    if (auto why = dispatch::check(cfg.policy); !why.empty()) {
      diag.message = why;
      return error::invalid_argument;
    }
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

  /// Whether every prompt came from a trace (the trace then sets arrivals and lengths).
  bool from_trace() const noexcept {
    return n > 0 && std::all_of(data.prompts.begin(), data.prompts.begin() + static_cast<std::ptrdiff_t>(n),
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
    auto arr = workload::make_arrivals(n, ac, diag);
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
    openai::request_options opt;
    opt.model = model;
    opt.max_tokens = cfg.max_new_tokens;
    opt.stream = true;
    opt.include_usage = true;
    if (cfg.ignore_eos) opt.ignore_eos = true;
    opt.temperature = 0.0;
    bodies.assign(n, {});
    for (std::size_t i = 0; i < n; ++i) {
      const auto& p = data.prompts[i];
      if (p.from_trace) {
        // The trace's output length exactly: vLLM's min_tokens with ignore_eos.
        opt.max_tokens = opt.min_tokens = p.from_trace->output_length;
        opt.ignore_eos = true;
      } else {
        opt.max_tokens = cfg.max_new_tokens;
        opt.min_tokens.reset();
        opt.ignore_eos = cfg.ignore_eos ? std::optional<bool>(true) : std::nullopt;
      }
      if (cfg.api == api_kind::chat) {
        std::vector<openai::chat_message> msgs;
        if (p.messages.empty()) {
          msgs.push_back({"user", p.text});
        } else {
          for (const auto& m : p.messages) msgs.push_back({m.role, m.content});
        }
        openai::build_chat_body(opt, msgs, bodies[i]);
      } else {
        openai::build_completions_body(opt, p.text, bodies[i]);
      }
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

  asio::awaitable<boost::system::error_code> preflight(diagnostics& diag) {
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

  asio::awaitable<void> monitor(std::size_t k, wait_group& wg) {
    auto& nd = nodes[k];
    asio::steady_timer timer(ex);
    const auto period = std::chrono::duration_cast<clock::duration>(cfg.metrics_interval);
    // Every node is scraped at once at the start (the counters' baseline); after that node
    // k's scrapes are offset by k/n of a period, so the fleet's pages do not all arrive (and
    // get parsed, and rendered by an emulator) in one burst that delays the requests' timing.
    auto next = clock::now() + (period * static_cast<clock::rep>(k)) / static_cast<clock::rep>(nodes.size());
    // One last scrape after the epoch ends, so the final counters are in.
    bool last = false;
    while (true) {
      diagnostics d;
      auto page = co_await nd.probe->async_fetch(http::client_request::get("/metrics", auth), d);
      std::string why;
      if (!page) {
        why = d.empty() ? page.error().message() : d.message;
      } else if (page->status != 200) {
        why = "HTTP " + std::to_string(page->status);
      } else {
        diagnostics pd;
        auto snap = co_await async_parse_vllm_page(ex, page->body, pd);
        if (!snap) {
          why = "malformed page: " + pd.message;
        } else if (!snap->has_vllm()) {
          // Zeros from a page that is not vLLM's would pass for an idle server.
          why = "the page has no vLLM metrics (is this a vLLM server?)";
        } else {
          nd.timeline.samples.push_back({offset_s + seconds_between(t0, page->last_byte), *snap});
          stream_scrape(nd, &nd.timeline.samples.back(), {});
          policy->on_load(static_cast<dispatch::node_index>(k),
                          dispatch::live_load{snap->num_running, snap->num_waiting, snap->kv_cache_usage});
        }
      }
      if (!why.empty()) {
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
      if (last || stop_monitors) break;
      next += period;
      const auto now = clock::now();
      if (next < now) next = now;  // a slow scrape: skip ahead rather than burst
      timer.expires_at(next);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (epoch_over) last = true;
    }
    wg.done();
  }
  bool stop_monitors = false;

  /// Probes `k`'s /health until it answers 200, then makes it available again.
  asio::awaitable<void> health_prober(std::size_t k) {
    auto& nd = nodes[k];
    asio::steady_timer timer(ex);
    background_task task(*this, timer);
    while (!epoch_over && !stop) {
      timer.expires_after(std::chrono::duration_cast<clock::duration>(cfg.health_interval));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (epoch_over || stop) break;
      diagnostics d;
      auto r = co_await nd.probe->async_fetch(http::client_request::get("/health", auth), d);
      if (r && r->status == 200) {
        // Half-open: routed to again, but the next connection failure takes it out at once.
        nd.consecutive_failures = cfg.breaker_failures > 0 ? cfg.breaker_failures - 1 : 0;
        policy->set_available(static_cast<dispatch::node_index>(k), true);
        log << "\npswm: " << nd.name << " (" << nd.url << ") answers /health again: routing to it\n";
        wake_node_waiters();
        break;
      }
    }
    nd.probing = false;
  }

  /// Takes node `k` out (the breaker opens) until its /health answers 200 again.
  void take_out(std::size_t k, const std::string& why) {
    auto& nd = nodes[k];
    if (nd.probing || epoch_over || !background) return;
    nd.probing = true;
    nd.out_reason = planetserve::detail::sanitized(why, 600);  // may quote a server's text
    policy->set_available(static_cast<dispatch::node_index>(k), false);
    log << "\npswm: " << nd.name << " (" << nd.url << ") is out: " << nd.out_reason
        << "; not routing to it until /health answers\n";
    background->add();
    asio::co_spawn(ex, health_prober(k), on_task_end(nullptr));
  }

  void wake_node_waiters() {
    for (auto* t : node_waiters) t->cancel();
  }

  /// After a connection failure or timeout at `k`: the breaker counts it; below its threshold
  /// the node is kept out of choices only while one /health check runs (a node that resets
  /// one connection in twenty but answers /health stays in). Returns why the node was taken
  /// out, or "" if it was not (or another request's check decides).
  asio::awaitable<std::string> on_connection_failure(std::size_t k, const std::string& what) {
    auto& nd = nodes[k];
    ++nd.consecutive_failures;
    if (nd.probing || nd.suspect || epoch_over || stop) co_return std::string{};
    if (cfg.breaker_failures > 0 && nd.consecutive_failures >= cfg.breaker_failures) {
      const std::string why = std::to_string(nd.consecutive_failures) + " consecutive connection failures (last: " + what + ")";
      take_out(k, why);
      co_return why;
    }
    nd.suspect = true;
    policy->set_available(static_cast<dispatch::node_index>(k), false);
    diagnostics d;
    auto r = co_await nd.probe->async_fetch(http::client_request::get("/health", auth), d);
    nd.suspect = false;
    if (r && r->status == 200) {
      if (!nd.probing) policy->set_available(static_cast<dispatch::node_index>(k), true);
      wake_node_waiters();
      co_return std::string{};
    }
    const std::string why = "/health " + (r ? "answered HTTP " + std::to_string(r->status)
                                            : "failed: " + redact(d.empty() ? r.error().message() : d.message)) +
                            " after a connection failure (" + what + ")";
    if (epoch_over || stop) {
      policy->set_available(static_cast<dispatch::node_index>(k), true);
      co_return std::string{};
    }
    take_out(k, why);
    co_return why;
  }

  /// Why each node is out, for a request that found none available.
  std::string nodes_out_text() const {
    std::string t;
    for (const auto& nd : nodes) {
      if (!nd.probing && !nd.suspect) continue;
      if (!t.empty()) t += "; ";
      t += nd.name + ": " + (nd.probing ? nd.out_reason : std::string("checking /health"));
    }
    return t;
  }

  /// The policy's choice for `req`; while every node is out, waits (woken when one comes
  /// back) until `deadline`, then gives up with a decision without a node.
  asio::awaitable<dispatch::decision> choose_waiting(const dispatch::request_view& req, clock::time_point deadline) {
    auto d = policy->choose(req, dispatch::fleet_view{clock::now() - t0});
    if (d.has_node()) co_return d;
    asio::steady_timer timer(ex);
    node_waiters.push_back(&timer);
    while (!d.has_node() && !stop && clock::now() < deadline) {
      timer.expires_at(std::min(deadline, clock::now() + std::chrono::milliseconds(200)));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      d = policy->choose(req, dispatch::fleet_view{clock::now() - t0});
    }
    std::erase(node_waiters, &timer);
    co_return d;
  }

  /// Copies a decision, and what the policy expected the node to have cached of the
  /// `prompt_tokens`-token prompt, into the record.
  void note_decision(request_record& rec, const dispatch::decision& d, std::size_t prompt_tokens) const {
    rec.node = d.node;
    rec.predicted_cached_tokens = policy->predicted_cached_tokens(d, prompt_tokens);
    rec.rule = std::string(dispatch::rule_name(d));
    rec.prompt_blocks = d.prompt_blocks;
    rec.match_blocks.assign(d.match_blocks.begin(), d.match_blocks.end());
    rec.load_scores.assign(d.load_score.begin(), d.load_score.end());
  }

  /// A request that found no node: recorded as never sent.
  void record_no_node(request_record& rec) {
    rec.sent_s = missing;
    rec.finished_s = now_s();
    rec.absolute_start = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    rec.error = "no node available: every node failed and none answered /health within --no-node-wait";
    rec.error_kind = "no_node_available";
    rec.node_out_reason = nodes_out_text();
  }

  // ---- requests ------------------------------------------------------------------------

  void finish_record(request_record& r) {
    if (r.ok) {
      ++completed;
      if (std::isfinite(r.ttft_s())) ttfts.push_back(r.ttft_s());
    } else {
      ++failed;
    }
    // Server text reaches the record only made safe and short, whichever path set it.
    if (!r.error.empty()) r.error = planetserve::detail::sanitized(r.error);
    if (!r.finish_reason.empty()) r.finish_reason = planetserve::detail::sanitized(r.finish_reason, 64);
    if (!r.node_out_reason.empty()) r.node_out_reason = planetserve::detail::sanitized(r.node_out_reason, 600);
    write_line(requests_log, log_failed, record_line(r));
  }

  asio::awaitable<void> send(std::size_t i, dispatch::node_index k, wait_group& wg) {
    auto& rec = epoch_records[i];
    openai::outcome out;
    openai::call c;
    c.kind = cfg.api == api_kind::chat ? openai::api::chat : openai::api::completions;
    c.body = bodies[i];
    c.api_key = cfg.api_key;
    co_await openai::async_stream_completion(*nodes[k].requests, c, out, {});
    const auto at = [&](clock::time_point tp) { return tp == clock::time_point{} ? missing : seconds_between(t0, tp); };
    rec.sent_s = at(out.sent != clock::time_point{} ? out.sent : out.start);
    rec.absolute_start = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
                         seconds_between(out.sent != clock::time_point{} ? out.sent : out.start, clock::now());
    rec.retries += out.resent;
    rec.first_token_s = out.first_token ? at(*out.first_token) : missing;
    rec.finished_s = out.last_byte != clock::time_point{} ? at(out.last_byte) : now_s();
    rec.chunk_s.clear();
    rec.chunk_s.reserve(out.chunk_times.size());
    for (auto tp : out.chunk_times) rec.chunk_s.push_back(at(tp));
    rec.http_status = static_cast<int>(out.status);
    rec.finish_reason = out.finish_reason;
    rec.response_id = out.response_id;
    if (out.usage) {
      rec.usage_reported = true;
      // A record holds 32-bit counts; a server's larger one (nonsense) is kept at the most it can hold.
      rec.prompt_tokens = planetserve::detail::saturate_cast<std::uint32_t>(out.usage->prompt_tokens);
      rec.completion_tokens = planetserve::detail::saturate_cast<std::uint32_t>(out.usage->completion_tokens);
      rec.cached_tokens.reset();
      if (out.usage->cached_tokens) rec.cached_tokens = planetserve::detail::saturate_cast<std::uint32_t>(*out.usage->cached_tokens);
    } else {
      rec.cached_tokens.reset();
      rec.prompt_tokens = planetserve::detail::saturate_cast<std::uint32_t>(tokens[i].size());
      rec.completion_tokens = planetserve::detail::saturate_cast<std::uint32_t>(out.content_chunks);
    }
    rec.ok = out.ok();
    rec.error.clear();
    rec.error_kind.clear();
    if (!rec.ok) {
      rec.error = redact(out.error_text.empty() ? out.error.message() : out.error_text);
      rec.error_kind = failure_kind(out);
    }
    dispatch::outcome fb;
    fb.request_id = i;
    fb.routed_tokens = static_cast<std::uint32_t>(std::min<std::size_t>(tokens[i].size(), UINT32_MAX));
    fb.e2e = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(std::isfinite(rec.e2e_s()) ? rec.e2e_s() : 0.0));
    fb.prompt_tokens = rec.prompt_tokens;
    fb.completion_tokens = rec.completion_tokens;
    fb.ok = rec.ok;
    policy->on_finished(k, fb);
    if (!rec.ok && node_unreachable(out)) {
      if (auto why = co_await on_connection_failure(k, rec.error_kind + ": " + rec.error); !why.empty())
        rec.node_out_reason = std::move(why);
    } else if (out.status != 0) {
      nodes[k].consecutive_failures = 0;
    }
    --nodes[k].active;
    start_next(k, wg);
    if (!rec.ok && retryable(out) && rec.retries < cfg.max_retries && !stop) {
      ++rec.retries;
      asio::steady_timer backoff(ex);
      backoff.expires_after(std::chrono::duration_cast<clock::duration>(cfg.retry_backoff * (1u << std::min<std::uint32_t>(rec.retries - 1, 10))));
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!stop) {
        const dispatch::request_view req{tokens[i], static_cast<std::uint64_t>(i)};
        const auto d = co_await choose_waiting(
            req, clock::now() + std::chrono::duration_cast<clock::duration>(cfg.no_node_wait));
        if (d.has_node()) {
          note_decision(rec, d, tokens[i].size());
          policy->on_dispatched(d.node, req);
          dispatch_or_queue(i, d.node, wg);
          wg.done();
          co_return;
        }
        // Nowhere to send it again: the record keeps the last attempt's failure.
        if (rec.node_out_reason.empty()) rec.node_out_reason = nodes_out_text();
      }
    }
    finish_record(rec);
    wg.done();
  }

  /// Sends request `i` to node `k` now, or queues it until one of the node's requests ends.
  void dispatch_or_queue(std::size_t i, dispatch::node_index k, wait_group& wg) {
    wg.add();
    nodes[k].backlog.push_back(i);
    start_next(k, wg);
  }

  /// The oldest queued request at `k` goes if the node has room (called on every dispatch and
  /// whenever one of its requests ends); once the run is stopping, the queued ones are
  /// recorded as never sent instead.
  void start_next(dispatch::node_index k, wait_group& wg) {
    auto& nd = nodes[k];
    if (stop) {
      while (!nd.backlog.empty()) {
        auto& rec = epoch_records[nd.backlog.front()];
        nd.backlog.pop_front();
        rec.sent_s = missing;
        rec.finished_s = now_s();
        rec.absolute_start = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
        rec.error = "stopped before a connection to " + nd.name + " (" + nd.url + ") was free: not sent";
        rec.error_kind = "interrupted";
        finish_record(rec);
        wg.done();
      }
      return;
    }
    if (nd.backlog.empty() || nd.active >= cfg.max_connections_per_node) return;
    const std::size_t i = nd.backlog.front();
    nd.backlog.pop_front();
    ++nd.active;
    asio::co_spawn(ex, send(i, k, wg), on_task_end(&wg));
  }

  // ---- progress ------------------------------------------------------------------------

  asio::awaitable<void> progress(std::size_t total) {
    asio::steady_timer timer(ex);
    background_task task(*this, timer);
    std::size_t last_sent = 0;
    auto last_t = clock::now();
    int ticks = 0;
    while (!epoch_over) {
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (epoch_over) break;
      // requests.jsonl is flushed by time, not per line: the tail reaches the OS here.
      write_line(requests_log, log_failed, {});
      write_line(timeline_log, timeline_log_failed, {});
      if (!cfg.progress) continue;
      // Plain lines come every 5 s: the rate covers the time since the last line printed.
      if (!tty && ++ticks % 5 != 0) continue;
      const auto now = clock::now();
      const double rate = static_cast<double>(sent - last_sent) / seconds_between(last_t, now);
      last_sent = sent;
      last_t = now;
      double p50 = missing;
      if (!ttfts.empty()) {
        std::vector<double> sorted = ttfts;
        std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
        p50 = sorted[sorted.size() / 2];
      }
      char line[256];
      std::snprintf(line, sizeof line,
                    "[%s epoch %zu] sent %zu/%zu  done %zu  failed %zu  rate %.1f/s  in flight %zu  p50 TTFT %s",
                    policy->name().data(), epoch + 1, sent, total, completed, failed, rate,
                    sent - completed - failed,
                    std::isfinite(p50) ? (std::to_string(static_cast<long>(p50 * 1000)) + " ms").c_str() : "-");
      log << (tty ? "\r" : "") << line << (tty ? "\033[K" : "\n") << std::flush;
    }
  }

  // ---- one epoch -----------------------------------------------------------------------

  asio::awaitable<void> run_epoch(std::vector<request_record>& all) {
    epoch_records.assign(n, {});
    sent = completed = failed = 0;
    ttfts.clear();
    epoch_over = false;
    stop_monitors = false;
    // A node still down from the last epoch gets another chance; a failure marks it again.
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      policy->set_available(static_cast<dispatch::node_index>(k), true);
      nodes[k].consecutive_failures = 0;
    }
    t0 = clock::now();

    wait_group monitors(ex);
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      monitors.add();
      asio::co_spawn(ex, monitor(k, monitors), on_task_end(&monitors));
    }
    wait_group bg(ex);
    background = &bg;
    bg.add();
    asio::co_spawn(ex, progress(n), on_task_end(nullptr));

    wait_group inflight(ex);
    asio::steady_timer timer(ex);
    sched_timer = &timer;
    for (std::size_t i = 0; i < n && !stop; ++i) {
      const auto when = t0 + std::chrono::duration_cast<clock::duration>(schedule[i]);
      if (clock::now() < when) {
        timer.expires_at(when);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (stop) break;
      }
      // --max-concurrency (vLLM bench's): a due request waits, before routing, until fewer
      // than the cap are in flight; later requests queue behind it. Checks `stop` every 100 ms.
      if (cfg.max_concurrency > 0) {
        while (!stop && !co_await inflight.wait_below_until(cfg.max_concurrency,
                                                            clock::now() + std::chrono::milliseconds(100))) {
        }
        if (stop) break;
      }
      auto& rec = epoch_records[i];
      rec.query_id = i;
      rec.epoch = epoch;
      rec.dataset_line = cfg.prompts.empty() ? data.prompts[i].line : 0;
      rec.max_tokens = max_tokens_of(i);
      if (const auto& t = data.prompts[i].from_trace) {
        rec.trace_input_length = t->input_length;
        rec.trace_hash_ids = t->hash_ids;
      }
      rec.scheduled_s = seconds_between(t0, when);
      const dispatch::request_view req{tokens[i], static_cast<std::uint64_t>(i)};
      // While every node is out the schedule waits (later requests behind it too: their send
      // lag shows it), up to --no-node-wait after this request's time.
      const auto d = co_await choose_waiting(req, when + std::chrono::duration_cast<clock::duration>(cfg.no_node_wait));
      if (!d.has_node() && stop) break;  // stopped while waiting: never sent, left out like the rest
      note_decision(rec, d, tokens[i].size());
      ++sent;
      if (!d.has_node()) {
        record_no_node(rec);
        finish_record(rec);
        continue;
      }
      policy->on_dispatched(d.node, req);
      dispatch_or_queue(i, d.node, inflight);
    }
    sched_timer = nullptr;
    // A stop may also come after the last send, while requests are still in flight: those
    // get the drain timeout too, so the wait looks at `stop` every 100 ms.
    while (inflight.count() > 0 && !stop)
      co_await inflight.wait_until(clock::now() + std::chrono::milliseconds(100));
    if (stop) {
      log << "\npswm: stopping: no more requests sent; waiting up to " << cfg.drain_timeout.count()
          << " s for " << inflight.count() << " in flight (Ctrl-C again to quit at once)\n";
      const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(cfg.drain_timeout);
      if (!co_await inflight.wait_until(deadline)) {
        log << "pswm: drain timeout: abandoning " << inflight.count() << " request(s)\n";
        for (auto& nd : nodes) nd.requests->shutdown();
      }
    }
    co_await inflight.wait();
    epoch_over = true;
    for (auto* t : background_timers) t->cancel();
    co_await monitors.wait();
    co_await bg.wait();
    background = nullptr;
    if (cfg.progress && tty) log << "\n";

    // Requests never sent (stopped early) stay out of the records.
    const std::size_t used = std::min(n, sent);
    for (std::size_t i = 0; i < used; ++i) all.push_back(std::move(epoch_records[i]));
    offset_s += now_s() + 1.0;
  }

  // ---- between epochs and policies -----------------------------------------------------

  // A policy that wants the nodes' KV events (kv_event_sink) gets a subscriber for its run.
  std::unique_ptr<kv_event_subscriber> start_kv_events(const std::string& name) {
    auto* sink = dynamic_cast<dispatch::kv_event_sink*>(policy);
    if (!sink) return nullptr;
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
    o["requests_per_epoch"] = n;
    o["maxq"] = cfg.maxq;
    o["arrival"] = std::string(workload::to_string(cfg.arrival));
    o["average_interval_s"] = cfg.average_interval_s;
    o["burstiness"] = cfg.burstiness;
    o["seed"] = cfg.seed;
    o["max_new_tokens"] = cfg.max_new_tokens;
    o["ignore_eos"] = cfg.ignore_eos;
    o["epochs"] = cfg.epochs;
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
