// SPDX-License-Identifier: MIT
// The emulator's HTTP front: fault injection, /metrics against the engine, disconnects, fleet start/stop.
#include <planetserve/openai/stream_completion.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>

#include "unit/sim_http_test_support.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <catch2/catch.hpp>

#include <cmath>

// GCC 12 reports a false -Wmismatched-new-delete on the coroutine frames of test lambdas
// (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

using namespace sim_http_test;
namespace oa = planetserve::openai;
namespace prom = planetserve::prom;
using namespace std::chrono_literals;
using http_test::run_coro;
using http_test::sleep_for;

std::string stream_body(std::string_view prompt, unsigned max_tokens) {
  std::string b = "{\"prompt\":";
  oa::append_json_string(b, prompt);
  b += ",\"max_tokens\":" + std::to_string(max_tokens) +
       ",\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
  return b;
}

// Polls `cond` every 10 ms, at most `tries` times; the caller then CHECKs the condition.
template <class Cond>
asio::awaitable<void> wait_until(Cond cond, int tries = 500) {
  for (int i = 0; i < tries && !cond(); ++i) co_await sleep_for(10ms);
}

sim::node_config slow_node(double step_s) {
  auto c = small_node();
  c.engine.cost = {};
  c.engine.cost.fixed_s = step_s;
  return c;
}

asio::awaitable<void> run_stream(http::client& c, std::string body, oa::stream_result& out) {
  oa::call call;
  call.body = body;
  call.keep_text = true;
  co_await oa::async_stream_completion(c, call, out, {});
}

// A shared-prefix trace: `users` users, `rounds` requests each, every prompt starting with
// the same system prompt and each user's own history.
std::vector<std::string> shared_prefix_trace(int users, int rounds) {
  std::string system;
  for (int i = 0; i < 80; ++i) system += " rule" + std::to_string(i);
  std::vector<std::string> prompts;
  for (int r = 0; r < rounds; ++r)
    for (int u = 0; u < users; ++u) {
      std::string p = system + " user" + std::to_string(u);
      for (int k = 0; k <= r; ++k) p += " question" + std::to_string(k) + " about topic" + std::to_string(u * 10 + k);
      prompts.push_back(std::move(p));
    }
  return prompts;
}

asio::awaitable<prom::vllm_snapshot> scrape(http::client& c) {
  auto r = co_await get(c, "/metrics");
  REQUIRE(r.status == 200);
  ps::diagnostics diag;
  auto snap = prom::parse_vllm_snapshot(r.body, &diag);
  INFO(diag.message);
  REQUIRE(snap.has_value());
  co_return *snap;
}

}  // namespace

TEST_CASE("sim_http: injected error rate 1.0 answers every generation with the chosen status", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto cfg = small_node();
    cfg.faults.error_rate = 1.0;
    cfg.faults.error_statuses = {503, 429};
    sim::fleet f(io.get_executor(), one_node(cfg));
    start(f);
    auto c = make_client(io, f.urls().at(0));
    const std::string body = stream_body("hello there", 4);
    int seen_503 = 0, seen_429 = 0;
    for (int i = 0; i < 40; ++i) {
      auto r = co_await post_json(c, "/v1/completions", body);
      INFO(r.body);
      REQUIRE((r.status == 503 || r.status == 429));
      (r.status == 503 ? seen_503 : seen_429)++;
      auto o = json_object(r.body);
      CHECK(o.at("error").as_object().at("code").as_int64() == r.status);
    }
    CHECK(seen_503 > 0);
    CHECK(seen_429 > 0);
    CHECK(f.node(0).stats().injected_errors == 40);
    CHECK(f.node(0).engine().stats().prefix_cache_queries == 0);
    auto health = co_await get(c, "/health");
    CHECK(health.status == 200);
    // Through the library's call: the status maps to the pipeline's error codes.
    oa::stream_result out;
    co_await run_stream(c, body, out);
    CHECK((out.error == ps::error::server_error || out.error == ps::error::rate_limited));
    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: close after N chunks cuts the stream and aborts the request", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto cfg = slow_node(0.002);
    cfg.faults.close_rate = 1.0;
    cfg.faults.close_after_chunks = 3;
    sim::fleet f(io.get_executor(), one_node(cfg));
    start(f);
    auto c = make_client(io, f.urls().at(0));
    oa::stream_result out;
    co_await run_stream(c, stream_body("a story please", 50), out);
    CHECK_FALSE(out.ok());
    CHECK((out.error == ps::error::connection_closed || out.error == ps::error::stream_incomplete));
    CHECK(out.content_chunks == 3);
    CHECK_FALSE(out.done_marker);
    CHECK(f.node(0).stats().injected_closes == 1);
    const auto& eng = f.node(0).engine();
    co_await wait_until([&] { return eng.num_running() == 0; });
    CHECK(eng.num_running() == 0);
    CHECK(eng.stats().generation_tokens < 50);  // aborted, not run to the end
    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: unhealthy window answers 503 on /health and generation, then recovers", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto cfg = small_node();
    cfg.faults.unhealthy_for = 1s;  // room for the start and two requests on a slow machine
    sim::fleet f(io.get_executor(), one_node(cfg));
    start(f);
    auto c = make_client(io, f.urls().at(0));
    auto h = co_await get(c, "/health");
    CHECK(h.status == 503);
    const std::string body = stream_body("hi", 2);
    auto g = co_await post_json(c, "/v1/completions", body);
    CHECK(g.status == 503);
    unsigned status = 0;
    for (int i = 0; i < 300 && status != 200; ++i) {
      co_await sleep_for(10ms);
      auto again = co_await get(c, "/health");
      status = again.status;
    }
    CHECK(status == 200);
    auto g2 = co_await post_json(c, "/v1/completions", body);
    CHECK(g2.status == 200);
    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: added network delay holds the response at least that long", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto cfg = small_node();
    cfg.faults.added_delay = 80ms;
    sim::fleet f(io.get_executor(), one_node(cfg));
    start(f);
    auto c = make_client(io, f.urls().at(0));
    const std::string body = stream_body("hi", 2);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = co_await post_json(c, "/v1/completions", body);
    CHECK(r.status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 >= 80ms);
    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: a request inside its handler when the node stops gets its connection dropped at once", "[sim][sim_http]") {
  // A killed server answers nothing. The request below is in its handler (held by the added
  // delay) when the node stops; after the delay the engine no longer steps, and waiting for
  // tokens would hold the client until its own timeout.
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto cfg = small_node();
    cfg.faults.added_delay = 200ms;
    sim::fleet f(io.get_executor(), one_node(cfg));
    start(f);
    ps::diagnostics diag;
    http::client_config cc;
    cc.read_timeout = 5s;
    auto c = http::client::create(io.get_executor(), f.urls().at(0), cc, diag);
    REQUIRE(c.has_value());
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await sleep_for(50ms);
          f.node(0).stop();
        },
        asio::detached);
    const std::string body = stream_body("hi", 4);
    const auto req = http::client_request::post("/v1/completions", "application/json", body);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = co_await c->async_fetch(req, diag);
    const auto took = std::chrono::steady_clock::now() - t0;
    INFO(diag.message);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == ps::error::connection_closed);
    CHECK(took < 2s);
    CHECK(f.node(0).stats().completed == 0);
    c->shutdown();
  });
}

TEST_CASE("sim_http: /metrics parsed by prom::parse_vllm_snapshot matches the engine's counters", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    sim::fleet f(io.get_executor(), one_node(slow_node(0.004)));
    start(f);
    auto c = make_client(io, f.urls().at(0));
    const auto& eng = f.node(0).engine();
    const auto prompts = shared_prefix_trace(4, 3);
    std::vector<oa::stream_result> outs(prompts.size());
    std::size_t done = 0;
    // Round by round: a user's next question comes after its previous one was sent.
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      asio::co_spawn(io, run_stream(c, stream_body(prompts[i], 40), outs[i]), [&](std::exception_ptr) { ++done; });
      co_await sleep_for(15ms);
    }
    co_await wait_until([&] { return eng.stats().prefix_cache_hits > 0 && eng.num_running() >= 2; });
    REQUIRE(eng.num_running() >= 1);

    // Mid-run: compare when no step ran between the scrape and now (same thread, so the
    // page and the engine then show the same state).
    bool compared = false;
    for (int attempt = 0; attempt < 50 && !compared; ++attempt) {
      const auto steps_before = eng.stats().steps;
      auto snap = co_await scrape(c);
      if (eng.stats().steps != steps_before) continue;
      compared = true;
      CHECK(snap.kv_cache_usage == eng.kv_cache_usage());
      // While requests run, more than the null block is in use (a slow sanitizer build may
      // only get to compare after the last one finished).
      if (eng.num_running() > 0) CHECK(snap.kv_cache_usage > 1.0 / 2048);
      CHECK(snap.prefix_cache_queries == static_cast<double>(eng.stats().prefix_cache_queries));
      CHECK(snap.prefix_cache_hits == static_cast<double>(eng.stats().prefix_cache_hits));
      CHECK(snap.num_running == static_cast<double>(eng.num_running()));
      CHECK(snap.current_names);
      CHECK(snap.v1_engine_label);
    }
    CHECK(compared);

    co_await wait_until([&] { return done == prompts.size(); }, 2000);
    REQUIRE(done == prompts.size());
    for (const auto& o : outs) {
      INFO(o.error_text);
      CHECK(o.ok());
    }
    auto end = co_await scrape(c);
    const auto& st = eng.stats();
    REQUIRE(st.prefix_cache_hits > 0);
    CHECK(end.prefix_cache_queries == static_cast<double>(st.prefix_cache_queries));
    CHECK(end.prefix_cache_hits == static_cast<double>(st.prefix_cache_hits));
    CHECK(end.prefix_cache_hit_ratio() ==
          Approx(static_cast<double>(st.prefix_cache_hits) / static_cast<double>(st.prefix_cache_queries)).epsilon(1e-12));
    CHECK(end.kv_cache_usage == eng.kv_cache_usage());
    CHECK(end.request_success == static_cast<double>(prompts.size()));
    CHECK(end.generation_tokens == static_cast<double>(40 * prompts.size()));
    CHECK(end.num_running == 0);
    // Every client saw the cached tokens the engine counted (usage reports them per request
    // only with --enable-prompt-tokens-details; here the totals must match the page).
    double prompt_total = 0;
    for (const auto& o : outs) prompt_total += static_cast<double>(o.usage ? o.usage->prompt_tokens : 0);
    CHECK(end.prompt_tokens == prompt_total);
    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: --metrics-names v0 and both give the same snapshot", "[sim][sim_http]") {
  for (auto names : {sim::metric_names::v0, sim::metric_names::both}) {
    run_coro([names](asio::io_context& io) -> asio::awaitable<void> {
      auto cfg = small_node();
      cfg.metrics_names = names;
      sim::fleet f(io.get_executor(), one_node(cfg));
      start(f);
      auto c = make_client(io, f.urls().at(0));
      for (const auto& p : shared_prefix_trace(3, 2)) {
        const std::string body = stream_body(p, 5);
        auto r = co_await post_json(c, "/v1/completions", body);
        REQUIRE(r.status == 200);
      }
      const auto& eng = f.node(0).engine();
      auto snap = co_await scrape(c);
      CHECK(snap.legacy_names);
      CHECK(snap.current_names == (names == sim::metric_names::both));
      CHECK(snap.prefix_cache_queries == static_cast<double>(eng.stats().prefix_cache_queries));
      CHECK(snap.prefix_cache_hits == static_cast<double>(eng.stats().prefix_cache_hits));
      CHECK(snap.prefix_cache_hits > 0);
      CHECK(snap.kv_cache_usage == eng.kv_cache_usage());
      c.shutdown();
      co_await f.async_shutdown(100ms);
    });
  }
}

TEST_CASE("sim_http: a client that disconnects mid-stream aborts its engine request", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    sim::fleet f(io.get_executor(), one_node(slow_node(0.005)));
    start(f);
    auto c = make_client(io, f.urls().at(0));
    const std::string body = stream_body("keep talking", 1000);
    const auto req = http::client_request::post("/v1/completions", "application/json", body);
    ps::diagnostics diag;
    auto reader = co_await c.async_open(req, diag);
    REQUIRE(reader.has_value());
    auto piece = co_await reader->async_read_some(diag);
    REQUIRE(piece.has_value());
    const auto& eng = f.node(0).engine();
    CHECK(eng.num_running() == 1);
    reader->close();
    co_await wait_until([&] { return eng.num_running() == 0 && f.node(0).stats().client_aborts == 1; });
    CHECK(eng.num_running() == 0);
    CHECK(eng.num_waiting() == 0);
    CHECK(f.node(0).stats().client_aborts == 1);
    CHECK(eng.stats().generation_tokens < 1000);
    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: a fleet binds N ports, serves on each, and shuts down after in-flight streams end", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    sim::fleet_config fc = one_node(slow_node(0.003));
    fc.num_nodes = 3;
    sim::fleet f(io.get_executor(), fc);
    start(f);
    REQUIRE(f.size() == 3);
    const auto urls = f.urls();
    REQUIRE(urls.size() == 3);
    CHECK(f.port(0) != f.port(1));
    CHECK(f.port(1) != f.port(2));
    CHECK(urls[2] == "http://127.0.0.1:" + std::to_string(f.port(2)));
    std::vector<http::client> clients;
    for (const auto& u : urls) {
      clients.push_back(make_client(io, u));
      auto h = co_await get(clients.back(), "/health");
      CHECK(h.status == 200);
    }
    // Different seeds per node: the same request gives different text.
    const std::string body = "{\"prompt\":\"same\",\"max_tokens\":8,\"ignore_eos\":true}";
    auto a = co_await post_json(clients[0], "/v1/completions", body);
    auto b = co_await post_json(clients[1], "/v1/completions", body);
    CHECK(a.status == 200);
    CHECK(b.status == 200);

    // A stream in flight when shutdown starts still ends with [DONE].
    oa::stream_result out;
    bool stream_done = false;
    asio::co_spawn(io, run_stream(clients[0], stream_body("long answer", 40), out),
                   [&](std::exception_ptr) { stream_done = true; });
    co_await wait_until([&] { return f.node(0).engine().num_running() == 1; });
    co_await f.async_shutdown(5s);
    co_await wait_until([&] { return stream_done; });
    CHECK(stream_done);
    INFO(out.error_text);
    CHECK(out.ok());
    CHECK(out.done_marker);
    CHECK(out.content_chunks == 40);

    // Nothing listens any more.
    for (auto& cl : clients) cl.shutdown();
    auto fresh = make_client(io, urls[1]);
    ps::diagnostics diag;
    const auto hreq = http::client_request::get("/health");
    auto r = co_await fresh.async_fetch(hreq, diag);
    CHECK_FALSE(r.has_value());
    fresh.shutdown();
  });
}

TEST_CASE("sim_http: a fleet whose port is taken fails naming the node and stops the others", "[sim][sim_http]") {
  asio::io_context io;
  sim::fleet first(io.get_executor(), one_node());
  start(first);
  sim::fleet_config fc = one_node();
  fc.num_nodes = 2;
  fc.base_port = static_cast<std::uint16_t>(first.port(0) - 1);
  sim::fleet second(io.get_executor(), fc);
  ps::diagnostics diag;
  auto ec = second.start(diag);
  CHECK(ec == ps::error::connection_failed);
  CHECK(diag.message.find("sim node ") != std::string::npos);
  CHECK(second.size() == 0);

  sim::fleet_config bad = one_node();
  bad.node.engine.max_num_seqs = 0;
  sim::fleet third(io.get_executor(), bad);
  ps::diagnostics diag3;
  CHECK(third.start(diag3) == ps::error::invalid_argument);
  CHECK(diag3.message.find("max_num_seqs") != std::string::npos);
  first.stop();
  io.run_for(std::chrono::milliseconds(200));
}
