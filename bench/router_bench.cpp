// SPDX-License-Identifier: MIT
// router_bench: what `pswm route` adds to time to first token, its CPU per request, and its most requests per second on one core.
//
// Three threads, each with its own io_context: emulated nodes (instant profile: zero model
// time), the router (one core), and the load generator. At each rate the generator sends
// streamed chat requests at fixed intervals (open loop) for --seconds, first straight to the
// nodes (round-robin), then through the router (policy rr, the same spread); TTFT is the
// client's send-to-first-content time. Added latency = router TTFT percentile minus direct
// TTFT percentile; the router's own histogram (request in to upstream sent, plus upstream
// first byte to client write) is shown beside it, interpolated inside its buckets. CPU per request is the router thread's
// CPU time (CLOCK_THREAD_CPUTIME_ID) over the requests it served. The closed-loop run keeps
// --concurrency requests in flight to find the most the router serves with one core busy.
//
// --find-max R replaces the rate list with a search: open-loop rates from R rising by 25% until
// the router falls behind (achieved under 95% of offered, added p99 over --p99-limit ms (10),
// or failures);
// the last rate before that is the highest it sustains on its one thread. The "router" column
// is the router thread's CPU time over the phase's wall time: near 100% means the router's
// core is the limit, well under it means the generator, the nodes or the machine is.
//
// --busy-poll US makes the router thread poll for US microseconds before each sleep
// (http::run_busy_polling, `pswm route --busy-poll`); its CPU per request then counts the
// polling. --pin puts the router thread alone on CPU 1 and the generator and the nodes on
// CPU 0, in both phases. --poll-all runs the generator and the nodes on one thread that
// busy polls as well, so that no request pays a thread's wake-up on either path.
//
// Usage: router_bench [--rates 1000,5000 | --find-max 1000 [--p99-limit 10]] [--seconds 5] [--nodes 4]
//                     [--concurrency 256 | --no-closed-loop] [--busy-poll US [--poll-all]] [--pin]
#include "pin_thread.hpp"

#include <planetserve/http/busy_poll.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/openai/stream_completion.hpp>
#include <planetserve/route/router.hpp>
#include <planetserve/sim/fleet.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>


// GCC 12 reports a false -Wmismatched-new-delete on coroutine frames (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace oa = planetserve::openai;
using clock_type = std::chrono::steady_clock;

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

/// A thread running its own io_context until stopped.
/// A thread running its own io_context until stopped, on `cpu` (-1: anywhere), busy polling
/// for `spin` before each sleep (0: io_context::run).
struct loop {
  explicit loop(int cpu = -1, std::chrono::microseconds spin = {}) : cpu_(cpu), spin_(spin) {}
  int cpu_;
  std::chrono::microseconds spin_;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread t{[this] {
    bench::pin_to(cpu_);
    ps::http::run_busy_polling(io, spin_);
  }};
  ~loop() {
    work.reset();
    io.stop();
    t.join();
  }
  template <class F>
  auto call(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    asio::post(io, [&task] { task(); });
    return fut.get();
  }
};

struct phase_result {
  std::vector<double> ttft_s;
  std::size_t failures = 0;
  double seconds = 0;
};

/// Open loop: `rate` requests per second for `seconds`, round-robin over `clients`.
phase_result open_loop(loop& gen, std::vector<ps::http::client>& clients, const std::string& body, double rate,
                       double seconds) {
  phase_result res;
  const auto n = static_cast<std::size_t>(rate * seconds);
  res.ttft_s.reserve(n);
  std::promise<void> done;
  std::size_t finished = 0;
  // Here, not in the sending coroutine: requests finish after it has returned.
  const auto t0 = clock_type::now();
  asio::co_spawn(
      gen.io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(gen.io);
        const auto gap = std::chrono::duration<double>(1.0 / rate);
        for (std::size_t i = 0; i < n; ++i) {
          timer.expires_at(t0 + std::chrono::duration_cast<clock_type::duration>(gap * static_cast<double>(i)));
          co_await timer.async_wait(asio::use_awaitable);
          asio::co_spawn(
              gen.io,
              [&, i]() -> asio::awaitable<void> {
                oa::call c;
                c.kind = oa::api::chat;
                c.body = body;
                c.record_chunk_times = false;
                oa::stream_result out;
                co_await oa::async_stream_completion(clients[i % clients.size()], c, out, {});
                if (out.ok() && out.first_token)
                  res.ttft_s.push_back(std::chrono::duration<double>(*out.first_token - out.sent).count());
                else
                  ++res.failures;
                if (++finished == n) {
                  res.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
                  done.set_value();
                }
              },
              asio::detached);
        }
      },
      asio::detached);
  done.get_future().wait();
  return res;
}

/// Closed loop: `concurrency` workers send back to back for `seconds`; returns completed requests.
std::size_t closed_loop(loop& gen, ps::http::client& client, const std::string& body, int concurrency, double seconds) {
  std::atomic<bool> stop{false};
  std::size_t completed = 0;
  int running = concurrency;
  std::promise<void> done;
  for (int w = 0; w < concurrency; ++w)
    asio::co_spawn(
        gen.io,
        [&]() -> asio::awaitable<void> {
          oa::call c;
          c.kind = oa::api::chat;
          c.body = body;
          c.record_chunk_times = false;
          oa::stream_result out;
          while (!stop) {
            out.reset();
            co_await oa::async_stream_completion(client, c, out, {});
            if (out.ok()) ++completed;
          }
          if (--running == 0) done.set_value();
        },
        asio::detached);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const std::size_t at_end = gen.call([&] { return completed; });
  stop = true;
  done.get_future().wait();
  return at_end;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<double> rates{1000, 5000};
  double seconds = 5;
  std::size_t nodes = 4;
  int concurrency = 256;
  double find_max = 0;  // > 0: the rising-rate search from this rate instead of --rates
  double p99_limit_ms = 10;  // the search's limit on added p99
  std::chrono::microseconds busy_poll{0};  // the router thread polls this long before sleeping
  bool pin = false;  // router on CPU 1, generator and nodes on CPU 0
  bool poll_all = false;  // generator and nodes on one thread, busy polling as the router does
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--rates" && v) {
      rates.clear();
      for (const char* p = v; *p;) {
        char* end = nullptr;
        rates.push_back(std::strtod(p, &end));
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p) break;
      }
      ++i;
    } else if (a == "--seconds" && v) {
      seconds = std::atof(v), ++i;
    } else if (a == "--nodes" && v) {
      nodes = static_cast<std::size_t>(std::atoi(v)), ++i;
    } else if (a == "--concurrency" && v) {
      concurrency = std::atoi(v), ++i;
    } else if (a == "--find-max" && v) {
      find_max = std::atof(v), ++i;
    } else if (a == "--p99-limit" && v) {
      p99_limit_ms = std::atof(v), ++i;
    } else if (a == "--busy-poll" && v) {
      busy_poll = std::chrono::microseconds(std::atol(v)), ++i;
    } else if (a == "--pin") {
      pin = true;
    } else if (a == "--poll-all") {
      poll_all = true;
    } else if (a == "--no-closed-loop") {
      concurrency = 0;
    } else {
      std::fprintf(stderr, "usage: router_bench [--rates 1000,5000 | --find-max 1000 [--p99-limit 10]] [--seconds 5] [--nodes 4] [--concurrency 256 | --no-closed-loop] [--busy-poll US [--poll-all]] [--pin]\n");
      return 2;
    }
  }

  // --pin: the router alone on CPU 1; the generator and the nodes share CPU 0 in both phases,
  // so the direct and the routed phase see the same placement of everything but the router.
  // --poll-all: the generator and the nodes on one thread that busy polls too, so neither
  // path pays a wake-up: the direct path then has no hop between threads at all, and what the
  // router adds is its own work plus its two hops.
  loop router_loop(pin ? 1 : -1, busy_poll), gen(pin ? 0 : -1, poll_all ? busy_poll : std::chrono::microseconds{});
  std::optional<loop> node_thread;
  if (!poll_all) node_thread.emplace(pin ? 0 : -1);
  loop& node_loop = poll_all ? gen : *node_thread;
  ps::sim::fleet_config fc;
  fc.num_nodes = nodes;
  fc.node = ps::sim::node_config::from_profile(*ps::sim::find_profile("instant"));
  ps::sim::fleet fleet(node_loop.io.get_executor(), fc);
  ps::diagnostics diag;
  if (node_loop.call([&] { return fleet.start(diag); })) throw std::runtime_error(diag.message);

  ps::route::router_config rc;
  rc.endpoints = fleet.urls();
  rc.policy = "rr";
  auto made = ps::route::router::create(router_loop.io.get_executor(), rc, diag);
  if (!made) throw std::runtime_error(diag.message);
  auto& r = **made;
  {
    std::promise<boost::system::error_code> started;
    asio::co_spawn(router_loop.io, r.async_start(diag), [&](std::exception_ptr, boost::system::error_code ec) { started.set_value(ec); });
    if (started.get_future().get()) throw std::runtime_error(diag.message);
  }
  if (!router_loop.call([&] { return r.listen("127.0.0.1", 0, diag); })) throw std::runtime_error(diag.message);
  const std::string router_url = "http://127.0.0.1:" + std::to_string(r.port());

  oa::request_options opt;
  opt.model = fc.node.served_model_name;
  opt.max_tokens = 8;
  opt.ignore_eos = true;
  std::string body;
  const oa::message_view msg{"user", "Summarize the benefits of prefix-aware routing for LLM serving in two sentences."};
  oa::build_chat_body(opt, std::span(&msg, 1), body);

  ps::http::client_config cc;
  cc.max_connections = 4096;
  std::vector<ps::http::client> direct, routed;
  for (const auto& u : fleet.urls()) direct.push_back(*ps::http::client::create(gen.io.get_executor(), u, cc, diag));
  routed.push_back(*ps::http::client::create(gen.io.get_executor(), router_url, cc, diag));

  // Warm-up: connections opened, caches touched.
  open_loop(gen, direct, body, 500, 1);
  open_loop(gen, routed, body, 500, 1);

  // One rate: direct, then through the router, at `rate` for `secs`.
  struct rate_result {
    double dp50, dp99, rp50, rp99, own50, own99, cpu_per_req, router_cpu_share, achieved;
    std::size_t direct_failures, routed_failures;
  };
  auto measure = [&](double rate, double secs) {
    auto d = open_loop(gen, direct, body, rate, secs);
    const double cpu0 = router_loop.call([] { return thread_cpu_s(); });
    const std::string page0 = router_loop.call([&] { return r.metrics_page(); });
    auto t = open_loop(gen, routed, body, rate, secs);
    const double cpu1 = router_loop.call([] { return thread_cpu_s(); });
    // The router's own added-latency histogram over this phase, from two /metrics renders.
    const std::string page1 = router_loop.call([&] { return r.metrics_page(); });
    auto buckets = [](const std::string& page) {
      std::vector<std::pair<double, double>> out;
      std::size_t pos = 0;
      const std::string key = "pswm_route_added_latency_seconds_bucket{le=\"";
      while ((pos = page.find(key, pos)) != std::string::npos) {
        pos += key.size();
        const auto q = page.find('"', pos);
        const std::string le = page.substr(pos, q - pos);
        const double bound = le == "+Inf" ? HUGE_VAL : std::strtod(le.c_str(), nullptr);
        out.emplace_back(bound, std::strtod(page.c_str() + page.find("} ", q) + 2, nullptr));
      }
      return out;
    };
    const auto b0 = buckets(page0), b1 = buckets(page1);
    // The p-quantile of the phase's observations, interpolated linearly inside its bucket
    // (as Prometheus's histogram_quantile does): an estimate, exact only to the bucket.
    auto own = [&](double p) -> double {
      const double total = b1.back().second - b0.back().second;
      double below = 0, lower = 0;
      for (std::size_t i = 0; i < b1.size(); ++i) {
        const double cum = b1[i].second - b0[i].second;
        if (cum >= p * total && cum > below) {
          if (std::isinf(b1[i].first)) return lower;
          return lower + (b1[i].first - lower) * (p * total - below) / (cum - below);
        }
        below = cum;
        lower = b1[i].first;
      }
      return INFINITY;
    };
    const double served = static_cast<double>(t.ttft_s.size() + t.failures);
    return rate_result{percentile(d.ttft_s, 0.5), percentile(d.ttft_s, 0.99), percentile(t.ttft_s, 0.5),
                       percentile(t.ttft_s, 0.99), own(0.5), own(0.99), (cpu1 - cpu0) / served,
                       (cpu1 - cpu0) / t.seconds, static_cast<double>(t.ttft_s.size()) / t.seconds,
                       d.failures, t.failures};
  };

  std::printf("router_bench: %zu instant nodes, streamed chat, max_tokens 8, %.0f s per phase; router thread %s, %s; %s\n\n",
              nodes, seconds, pin ? "alone on CPU 1 (generator and nodes on CPU 0)" : "unpinned",
              busy_poll.count() > 0 ? ("busy polling " + std::to_string(busy_poll.count()) + " us before sleeping").c_str()
                                    : "sleeping when idle",
              poll_all ? "generator and nodes on one thread, busy polling too" : "generator and nodes on two threads, sleeping when idle");
  if (find_max > 0) {
    // Open-loop rates rising by 25% until the router falls behind: fewer than 95% of the
    // offered requests per second completed, an added p99 over --p99-limit ms, or failures.
    std::printf("%8s | %9s | %10s %10s | %9s %9s | %8s %8s | %s\n", "offered/s", "achieved", "direct p99", "router p99",
                "added p50", "p99", "CPU/req", "router", "failures");
    double best = 0;
    for (double rate = find_max; rate <= 100000; rate *= 1.25) {
      const auto m = measure(rate, seconds);
      std::printf("%9.0f | %9.0f | %8.0fus %8.0fus | %7.0fus %7.0fus | %6.1fus %7.0f%% | %zu+%zu\n", rate, m.achieved,
                  m.dp99 * 1e6, m.rp99 * 1e6, (m.rp50 - m.dp50) * 1e6, (m.rp99 - m.dp99) * 1e6, m.cpu_per_req * 1e6,
                  100 * m.router_cpu_share, m.direct_failures, m.routed_failures);
      std::fflush(stdout);
      if (m.achieved < 0.95 * rate || m.rp99 - m.dp99 > p99_limit_ms * 1e-3 || m.routed_failures > 0) break;
      best = rate;
    }
    std::printf("\nhighest sustained open-loop rate on one router thread: %.0f req/s\n", best);
  } else {
    std::printf("%8s | %8s | %10s %10s | %10s %10s | %9s %9s | %9s %9s | %8s | %s\n", "rate/s", "achieved", "direct p50",
                "p99", "router p50", "p99", "added p50", "p99", "own p50", "own p99", "CPU/req", "failures");
    for (double rate : rates) {
      const auto m = measure(rate, seconds);
      std::printf("%8.0f | %8.0f | %8.0fus %8.0fus | %8.0fus %8.0fus | %7.0fus %7.0fus | %6s%3.0fus %6s%3.0fus | %6.1fus | %zu+%zu\n",
                  rate, m.achieved, m.dp50 * 1e6, m.dp99 * 1e6, m.rp50 * 1e6, m.rp99 * 1e6, (m.rp50 - m.dp50) * 1e6, (m.rp99 - m.dp99) * 1e6,
                  "~", m.own50 * 1e6, "~", m.own99 * 1e6, m.cpu_per_req * 1e6, m.direct_failures, m.routed_failures);
      std::fflush(stdout);
    }
  }

  if (concurrency > 0) {
    const double cpu0 = router_loop.call([] { return thread_cpu_s(); });
    const auto t0 = clock_type::now();
    const std::size_t done = closed_loop(gen, routed[0], body, concurrency, seconds);
    const double wall = std::chrono::duration<double>(clock_type::now() - t0).count();
    const double cpu1 = router_loop.call([] { return thread_cpu_s(); });
    std::printf("\nclosed loop, %d in flight: %.0f req/s through the router; router thread %.0f%% of one core, %.1f us CPU per request\n",
                concurrency, static_cast<double>(done) / seconds, 100 * (cpu1 - cpu0) / wall,
                (cpu1 - cpu0) / static_cast<double>(done) * 1e6);
  }

  gen.call([&] {
    for (auto& c : direct) c.shutdown();
    for (auto& c : routed) c.shutdown();
    return 0;
  });
  router_loop.call([&] {
    made->reset();  // on the router's own thread
    return 0;
  });
  node_loop.call([&] {
    fleet.stop();
    return 0;
  });
  return 0;
}
