// SPDX-License-Identifier: MIT
// route: request inspection, the breaker, the metrics page, and the router in front of emulated nodes.
#include <planetserve/dispatch/decision.hpp>
#include <planetserve/http/server.hpp>
#include <planetserve/openai/stream_completion.hpp>
#include <planetserve/prom/page.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>
#include <planetserve/route.hpp>

#include "unit/sim_http_test_support.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <sstream>

using namespace sim_http_test;
namespace route = planetserve::route;
using http_test::run_coro;

TEST_CASE("route: inspect_request reads model, stream and prompt", "[route]") {
  route::inspected_request r;
  CHECK_FALSE(route::inspect_request(route::endpoint::chat_completions,
                                     R"({"model":"m","stream":true,"user":"alice","messages":[{"role":"system","content":"Be brief. "},)"
                                     R"({"role":"user","content":[{"type":"text","text":"Hi"},{"type":"image_url","image_url":{}}]}]})",
                                     r));
  CHECK(r.model == "m");
  CHECK(r.stream);
  CHECK(r.prompt == "Be brief. Hi");
  REQUIRE(r.messages.size() == 2);
  CHECK(r.messages[0].role == "system");
  CHECK(r.messages[0].content == "Be brief. ");
  CHECK(r.messages[1].role == "user");
  CHECK(r.messages[1].content == "Hi");
  CHECK(r.session != 0);
  CHECK_FALSE(route::inspect_request(route::endpoint::completions, R"({"prompt":["first","second"]})", r));
  CHECK(r.model.empty());
  CHECK_FALSE(r.stream);
  CHECK(r.prompt == "first");
  CHECK(r.messages.empty());
  CHECK_FALSE(route::inspect_request(route::endpoint::completions, R"({"model":"m","prompt":[1,2,3]})", r));
  CHECK(r.prompt_ids == std::vector<std::uint32_t>{1, 2, 3});
}

TEST_CASE("route: inspect_request refuses what it cannot route, naming the field", "[route]") {
  route::inspected_request r;
  auto p = route::inspect_request(route::endpoint::chat_completions, R"({"model":"m","messages":[)", r);
  REQUIRE(p);
  CHECK(p->status == 400);
  CHECK_THAT(p->message, Catch::Contains("not valid JSON"));
  p = route::inspect_request(route::endpoint::chat_completions, "[1,2]", r);
  REQUIRE(p);
  CHECK_THAT(p->message, Catch::Contains("JSON object"));
  p = route::inspect_request(route::endpoint::chat_completions, R"({"model":5,"messages":[]})", r);
  REQUIRE(p);
  CHECK(p->param == "model");
  p = route::inspect_request(route::endpoint::chat_completions, R"({"model":"m"})", r);
  REQUIRE(p);
  CHECK(p->param == "messages");
  p = route::inspect_request(route::endpoint::completions, R"({"model":"m","stream":"yes","prompt":"x"})", r);
  REQUIRE(p);
  CHECK(p->param == "stream");
  p = route::inspect_request(route::endpoint::completions, R"({"prompt":[-1]})", r);
  REQUIRE(p);
  CHECK(p->param == "prompt");
  // Nesting deep enough to exhaust a recursive parser is refused, not followed.
  p = route::inspect_request(route::endpoint::completions, std::string(100000, '['), r);
  REQUIRE(p);
}

TEST_CASE("route: breaker opens on consecutive failures, half-opens on /health, closes on success", "[route]") {
  route::breaker b(3);
  CHECK(b.allows());
  CHECK_FALSE(b.on_failure());
  b.on_success();  // a success in between resets the count
  CHECK_FALSE(b.on_failure());
  CHECK_FALSE(b.on_failure());
  CHECK(b.on_failure());
  CHECK(b.state() == route::breaker_state::open);
  CHECK_FALSE(b.allows());
  CHECK(b.on_health_success());
  CHECK(b.state() == route::breaker_state::half_open);
  CHECK(b.allows());
  CHECK(b.on_failure());  // half-open: one failure reopens
  CHECK(b.state() == route::breaker_state::open);
  b.on_health_success();
  b.on_success();
  CHECK(b.state() == route::breaker_state::closed);
  CHECK(b.on_health_failure());
  CHECK_FALSE(b.allows());
}

TEST_CASE("route: the metrics page is valid Prometheus text with every family", "[route]") {
  route::router_metrics m(2);
  m.on_request(0, "round-robin", 200);
  m.on_request(0, "round-robin", 200);
  m.on_request(planetserve::dispatch::no_node, "bad-request", 400);
  m.on_decision(3e-6);
  m.on_added_latency(40e-6);
  m.on_added_latency(2.0);
  m.on_retry();
  m.on_upstream_failure(1);
  m.on_predicted_cached(32, 100);
  const route::node_gauges g[] = {{"node_0", "http://a\"b", 1, route::breaker_state::closed, std::nullopt},
                                  {"node_1", "http://c", 0, route::breaker_state::open, std::nullopt}};
  const std::string text = m.render(g);
  planetserve::diagnostics d;
  auto page = planetserve::prom::parse_page(text, &d);
  INFO(d.message << "\n" << text);
  REQUIRE(page.has_value());
  CHECK(m.requests_with_status(200) == 2);
  CHECK_THAT(text, Catch::Contains("pswm_route_requests_total{node=\"node_0\",rule=\"round-robin\",status=\"200\"} 2"));
  CHECK_THAT(text, Catch::Contains("pswm_route_requests_total{node=\"none\",rule=\"bad-request\",status=\"400\"} 1"));
  CHECK_THAT(text, Catch::Contains("pswm_route_breaker_state{node=\"node_1\"} 1"));
  CHECK_THAT(text, Catch::Contains("url=\"http://a\\\"b\""));
  CHECK_THAT(text, Catch::Contains("pswm_route_added_latency_seconds_bucket{le=\"5e-05\"} 1"));
  CHECK_THAT(text, Catch::Contains("pswm_route_added_latency_seconds_count 2"));
  CHECK_THAT(text, Catch::Contains("pswm_route_retries_total 1"));
  CHECK_THAT(text, Catch::Contains("pswm_route_predicted_cached_tokens_total 32"));
  // No node's KV events followed: no KV-events family at all.
  CHECK_THAT(text, !Catch::Contains("pswm_route_kv_event"));

  // Followed: a series per followed node in each family, and the page still parses.
  const route::node_gauges kv[] = {
      {"node_0", "http://a", 0, route::breaker_state::closed, route::kv_events_gauges{12, 1, 0, true}},
      {"node_1", "http://c", 0, route::breaker_state::closed, route::kv_events_gauges{3, 2, 1, false}}};
  const std::string kv_text = m.render(kv);
  auto kv_page = planetserve::prom::parse_page(kv_text, &d);
  INFO(d.message << "\n" << kv_text);
  REQUIRE(kv_page.has_value());
  CHECK_THAT(kv_text, Catch::Contains("# TYPE pswm_route_kv_event_batches_total counter"));
  CHECK_THAT(kv_text, Catch::Contains("pswm_route_kv_event_batches_total{node=\"node_0\"} 12"));
  CHECK_THAT(kv_text, Catch::Contains("pswm_route_kv_event_gaps_total{node=\"node_1\"} 2"));
  CHECK_THAT(kv_text, Catch::Contains("pswm_route_kv_events_lost_total{node=\"node_1\"} 1"));
  CHECK_THAT(kv_text, Catch::Contains("pswm_route_kv_events_synced{node=\"node_0\"} 1"));
  CHECK_THAT(kv_text, Catch::Contains("pswm_route_kv_events_synced{node=\"node_1\"} 0"));
}

namespace {

sim::fleet_config fleet_of(std::size_t n) {
  auto f = one_node();
  f.num_nodes = n;
  f.host = "127.0.0.1";
  return f;
}

route::router_config router_for(const sim::fleet& f, std::string policy = "rr") {
  route::router_config c;
  c.endpoints = f.urls();
  c.policy = policy;
  c.health_interval = std::chrono::milliseconds(50);
  c.metrics_interval = std::chrono::milliseconds(100);
  c.header_timeout = std::chrono::milliseconds(300);
  c.retry_backoff = std::chrono::duration<double>(0.001);
  c.max_body = 64 * 1024;
  return c;
}

asio::awaitable<std::unique_ptr<route::router>> start_router(asio::io_context& io, route::router_config c) {
  ps::diagnostics d;
  auto r = route::router::create(io.get_executor(), std::move(c), d);
  INFO(d.message);
  REQUIRE(r.has_value());
  auto ec = co_await (*r)->async_start(d);
  INFO(d.message);
  REQUIRE_FALSE(ec);
  auto port = (*r)->listen("127.0.0.1", 0, d);
  REQUIRE(port.has_value());
  co_return std::move(*r);
}

std::string router_url(const route::router& r) { return "http://127.0.0.1:" + std::to_string(r.port()); }

/// Ends a test: its client, then its router (draining for 100 ms), then its fleet.
asio::awaitable<void> finish(http::client& c, route::router& r, sim::fleet& f) {
  c.shutdown();
  co_await r.async_shutdown(std::chrono::milliseconds(100));
  f.stop();
}

const std::string chat_stream =
    R"({"model":"test-model","stream":true,"max_tokens":8,"messages":[{"role":"user","content":"tell me a story about routers"}]})";

}  // namespace

TEST_CASE("route: streams and whole responses pass through, naming the node", "[route]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    sim::fleet f(io.get_executor(), fleet_of(2));
    start(f);
    auto r = co_await start_router(io, router_for(f));
    CHECK(r->models() == std::vector<std::string>{model});
    auto c = make_client(io, router_url(*r));

    std::vector<std::string> served;
    for (int i = 0; i < 2; ++i) {
      ps::diagnostics d;
      const auto req = http::client_request::post("/v1/chat/completions", "application/json", chat_stream);
      auto reader = co_await c.async_open(req, d);
      REQUIRE(reader.has_value());
      CHECK(reader->status() == 200);
      CHECK(reader->content_type().starts_with("text/event-stream"));
      served.emplace_back(reader->header("x-pswm-node"));
      std::string body;
      REQUIRE_FALSE(co_await reader->async_read_rest(body, d));
      const auto events = sse_data(body);
      REQUIRE(events.size() >= 2);
      CHECK(events.back() == "[DONE]");
    }
    // rr: the two requests went to the two nodes.
    CHECK(served == std::vector<std::string>{"node_0", "node_1"});

    // pswm run's client records the node the router names.
    planetserve::openai::call call;
    call.kind = planetserve::openai::api::chat;
    call.body = chat_stream;
    auto out = co_await planetserve::openai::async_stream_completion(c, call);
    CHECK(out.ok());
    CHECK(out.served_by == "node_0");

    auto whole = co_await post_json(c, "/v1/completions", R"({"model":"test-model","prompt":"hello there","max_tokens":4})");
    CHECK(whole.status == 200);
    CHECK(json_object(whole.body).at("object") == "text_completion");

    auto models = co_await get(c, "/v1/models");
    CHECK(models.status == 200);
    CHECK(json_object(models.body).at("data").as_array().at(0).as_object().at("id").as_string() == model);
    auto health = co_await get(c, "/health");
    CHECK(health.status == 200);
    auto tok = co_await post_json(c, "/tokenize", R"({"model":"test-model","prompt":"hello world"})");
    CHECK(tok.status == 200);
    CHECK(json_object(tok.body).at("count").as_int64() > 0);
    auto page = co_await get(c, "/metrics");
    CHECK(page.status == 200);
    CHECK_THAT(page.body, Catch::Contains("pswm_route_requests_total{node=\"node_0\",rule=\"round-robin\",status=\"200\"}"));
    CHECK(r->metrics().requests_with_status(200) >= 3);

    co_await finish(c, *r, f);
  });
}

TEST_CASE("route: bad requests get vLLM-shaped errors, never a hang", "[route]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    sim::fleet f(io.get_executor(), fleet_of(1));
    start(f);
    auto r = co_await start_router(io, router_for(f));
    auto c = make_client(io, router_url(*r));
    const auto expect_error = [](const http::response& res, unsigned status, std::string_view text) {
      INFO(res.body);
      CHECK(res.status == status);
      auto o = json_object(res.body);
      REQUIRE(o.contains("error"));
      CHECK(o.at("error").at("code").as_int64() == status);
      const auto& msg = o.at("error").at("message").as_string();
      CHECK_THAT(std::string(msg.data(), msg.size()), Catch::Contains(std::string(text)));
    };
    expect_error(co_await post_json(c, "/v1/chat/completions", "{\"model\":"), 400, "not valid JSON");
    expect_error(co_await post_json(c, "/v1/chat/completions", R"({"model":"nope","messages":[]})"), 404, "`nope` does not exist");
    expect_error(co_await post_json(c, "/v1/completions", std::string(70 * 1024, ' ')), 413, "too large");
    c.shutdown();
    c = make_client(io, router_url(*r));

    // Slow loris: half a request line, then silence: the router hangs up after header_timeout.
    asio::ip::tcp::socket s(io);
    co_await s.async_connect({asio::ip::make_address("127.0.0.1"), r->port()}, asio::use_awaitable);
    const std::string partial = "POST /v1/completions HTTP/1.1\r\nHost: x\r\n";
    co_await asio::async_write(s, asio::buffer(partial), asio::use_awaitable);
    char buf[64];
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    CHECK(ec);  // closed (eof or reset), with nothing sent
    CHECK(n == 0);

    // No healthy node: every node stopped; the request is refused quickly with 503 or 502.
    f.stop();
    co_await http_test::sleep_for(std::chrono::milliseconds(200));
    auto none = co_await post_json(c, "/v1/chat/completions", chat_stream);
    CHECK((none.status == 503 || none.status == 502));
    CHECK(json_object(none.body).contains("error"));
    auto health = co_await get(c, "/health");
    CHECK(health.status == 503);
    c.shutdown();
    co_await r->async_shutdown(std::chrono::milliseconds(100));
  });
}

TEST_CASE("route: the router's key is checked and the upstream key sent instead", "[route]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto nc = small_node();
    nc.api_key = "node-secret";
    sim::fleet f(io.get_executor(), one_node(nc));
    start(f);
    auto cfg = router_for(f);
    cfg.api_key = "router-secret";
    cfg.upstream_api_key = "node-secret";
    auto r = co_await start_router(io, cfg);
    auto c = make_client(io, router_url(*r));
    auto refused = co_await post_json(c, "/v1/chat/completions", chat_stream);
    CHECK(refused.status == 401);
    const http::header_field wrong[] = {{"Authorization", "Bearer node-secret"}};
    CHECK((co_await post_json(c, "/v1/chat/completions", chat_stream, wrong)).status == 401);
    const http::header_field right[] = {{"Authorization", "Bearer router-secret"}};
    CHECK((co_await post_json(c, "/v1/chat/completions", chat_stream, right)).status == 200);
    CHECK_FALSE(r->metrics_page().find("secret") != std::string::npos);
    co_await finish(c, *r, f);
  });
}

TEST_CASE("route: a node killed under load fails no request that could be retried", "[route]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    sim::fleet f(io.get_executor(), fleet_of(3));
    start(f);
    auto r = co_await start_router(io, router_for(f));
    auto c = make_client(io, router_url(*r));
    int ok = 0, failed_unstarted = 0, cut_mid_stream = 0, done = 0;
    const int total = 300;
    auto one = [&]() -> asio::awaitable<void> {
      ps::diagnostics d;
      const auto req = http::client_request::post("/v1/chat/completions", "application/json", chat_stream);
      auto reader = co_await c.async_open(req, d);
      if (!reader || reader->status() != 200) {
        ++failed_unstarted;
      } else {
        std::string body;
        auto ec = co_await reader->async_read_rest(body, d);
        if (!ec && body.find("[DONE]") != std::string::npos && body.find("\"error\"") == std::string::npos) ++ok;
        else ++cut_mid_stream;
      }
      ++done;
    };
    for (int i = 0; i < total; ++i) {
      asio::co_spawn(io, one(), asio::detached);
      if (i == total / 3) f.node(1).stop();  // killed: its connections close, its port refuses
      if (i % 10 == 9) co_await http_test::sleep_for(std::chrono::milliseconds(2));
    }
    while (done < total) co_await http_test::sleep_for(std::chrono::milliseconds(5));
    INFO("ok " << ok << " unstarted failures " << failed_unstarted << " cut mid-stream " << cut_mid_stream);
    CHECK(failed_unstarted == 0);
    CHECK(ok + cut_mid_stream == total);
    CHECK(r->metrics().retries() >= 1);
    CHECK(r->node_breaker(1) == route::breaker_state::open);
    CHECK(r->in_flight(1) == 0);
    co_await finish(c, *r, f);
  });
}

TEST_CASE("route: a client that leaves mid-stream cancels the upstream request", "[route]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto nc = small_node();
    // Slow steps: a long stream the client can leave in the middle of.
    nc.engine.cost.fixed_s = 0.01;
    sim::fleet f(io.get_executor(), one_node(nc));
    start(f);
    auto r = co_await start_router(io, router_for(f));
    auto c = make_client(io, router_url(*r));
    {
      ps::diagnostics d;
      const std::string body =
          R"({"model":"test-model","stream":true,"max_tokens":500,"ignore_eos":true,"messages":[{"role":"user","content":"go on"}]})";
      const auto req = http::client_request::post("/v1/chat/completions", "application/json", body);
      auto reader = co_await c.async_open(req, d);
      REQUIRE(reader.has_value());
      auto piece = co_await reader->async_read_some(d);
      REQUIRE(piece.has_value());
      CHECK(r->in_flight(0) == 1);
      reader->close();  // the client leaves
    }
    for (int i = 0; i < 100 && f.node(0).stats().client_aborts == 0; ++i)
      co_await http_test::sleep_for(std::chrono::milliseconds(10));
    CHECK(f.node(0).stats().client_aborts == 1);
    CHECK(r->in_flight(0) == 0);
    co_await finish(c, *r, f);
  });
}

namespace {

// A node that takes generation requests and never answers them until its client (the
// router) leaves: what a node busy before its first byte looks like.
struct silent_node {
  explicit silent_node(asio::io_context& io) : server(io.get_executor()) {
    using verb = boost::beast::http::verb;
    server.route(verb::get, "/v1/models", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "application/json", R"({"object":"list","data":[{"id":"test-model"}]})");
    });
    server.route(verb::get, "/health", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "", "");
    });
    server.route(verb::post, "/v1/chat/completions", [this](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      ++arrived;
      asio::steady_timer wait(co_await asio::this_coro::executor);
      wait.expires_after(std::chrono::seconds(60));
      res.on_client_gone([&wait] { wait.cancel(); });
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
      if (res.client_gone()) ++left;
    });
    ps::diagnostics d;
    auto p = server.listen("127.0.0.1", 0, d);
    REQUIRE(p.has_value());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server.port()); }
  http::server server;
  int arrived = 0;  // generation requests received
  int left = 0;     // of them, the ones whose connection the router closed
};

// A router in front of `node` alone, without background checks.
route::router_config router_for(const silent_node& node) {
  route::router_config c;
  c.endpoints = {node.url()};
  c.policy = "rr";
  c.metrics_interval = std::chrono::milliseconds(0);
  c.health_interval = std::chrono::milliseconds(0);
  return c;
}

// A client on a raw socket that sends one streamed chat request and reads nothing yet.
asio::awaitable<asio::ip::tcp::socket> send_raw_request(asio::io_context& io, const route::router& r) {
  asio::ip::tcp::socket s(io);
  co_await s.async_connect({asio::ip::make_address("127.0.0.1"), r.port()}, asio::use_awaitable);
  const std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(chat_stream.size()) + "\r\n\r\n" + chat_stream;
  co_await asio::async_write(s, asio::buffer(req), asio::use_awaitable);
  co_return s;
}

// Polls `done` every 5 ms for at most 10 s (a bound, not a timing assertion).
template <class F>
asio::awaitable<bool> eventually(F done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) co_return true;
    co_await http_test::sleep_for(std::chrono::milliseconds(5));
  }
  co_return done();
}

}  // namespace

TEST_CASE("route: a client that leaves before the node's head arrives cancels the upstream request", "[route]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    silent_node node(io);
    auto c = router_for(node);
    auto r = co_await start_router(io, c);
    {
      auto s = co_await send_raw_request(io, *r);
      REQUIRE(co_await eventually([&] { return node.arrived == 1; }));
      CHECK(r->in_flight(0) == 1);
      s.close();  // the client leaves while the router waits for the node's response head
    }
    CHECK(co_await eventually([&] { return node.left == 1; }));
    CHECK(co_await eventually([&] { return r->in_flight(0) == 0; }));
    CHECK(r->metrics().requests_with_status(499) == 1);
    CHECK(r->node_breaker(0) == route::breaker_state::closed);  // leaving is no fault of the node's
    co_await r->async_shutdown(std::chrono::milliseconds(100));
    node.server.stop();
  });
}

TEST_CASE("route: a client that leaves while its request waits for a node connection is dropped at once", "[route]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    silent_node node(io);
    auto c = router_for(node);
    c.max_connections_per_node = 1;  // the first request holds the only connection
    auto r = co_await start_router(io, c);
    auto first = co_await send_raw_request(io, *r);
    REQUIRE(co_await eventually([&] { return node.arrived == 1; }));
    {
      auto second = co_await send_raw_request(io, *r);
      REQUIRE(co_await eventually([&] { return r->in_flight(0) == 2; }));  // dispatched, waiting
      second.close();
    }
    CHECK(co_await eventually([&] { return r->in_flight(0) == 1; }));
    CHECK(r->metrics().requests_with_status(499) == 1);
    first.close();
    CHECK(co_await eventually([&] { return node.left == 1; }));
    CHECK(co_await eventually([&] { return r->in_flight(0) == 0; }));
    CHECK(node.arrived == 1);  // the second request never reached the node
    co_await r->async_shutdown(std::chrono::milliseconds(100));
    node.server.stop();
  });
}

namespace {

/// Prefix-cache hits node `k` of `f` reports on its /metrics.
asio::awaitable<double> node_hits(asio::io_context& io, sim::fleet& f, std::size_t k) {
  auto c = make_client(io, f.urls()[k]);
  auto page = co_await get(c, "/metrics");
  c.shutdown();
  auto snap = ps::prom::parse_vllm_snapshot(page.body);
  REQUIRE(snap.has_value());
  co_return snap->prefix_cache_hits;
}

/// POSTs a chat body through `c`; the node that served it (x-pswm-node), "" when it failed.
asio::awaitable<std::string> served_chat(http::client& c, const std::string& body) {
  ps::diagnostics d;
  const auto req = http::client_request::post("/v1/chat/completions", "application/json", body);
  auto reader = co_await c.async_open(req, d);
  if (!reader || reader->status() != 200) co_return std::string();
  std::string node(reader->header("x-pswm-node")), rest;
  if (co_await reader->async_read_rest(rest, d)) co_return std::string();
  co_return node;
}

}  // namespace

TEST_CASE("route: precise follows the nodes' KV events and predicts exactly the tokens they hit", "[route][kvevents][zmq]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto fc = fleet_of(2);
    fc.node.kv_events.endpoint = "tcp://127.0.0.1:*";
    fc.node.kv_events.replay_endpoint = "tcp://127.0.0.1:*";
    sim::fleet f(io.get_executor(), fc);
    start(f);
    auto rc = router_for(f, "precise");
    // The nodes render chats with Llama 3.1's template (the emulator's default): so does the router.
    rc.chat_template = sim::chat_template::llama3_1();
    for (std::size_t k = 0; k < 2; ++k) rc.kv_events.push_back({f.node(k).kv_events_endpoint(), f.node(k).kv_events_replay_endpoint(), {}});
    std::ostringstream log;
    rc.log = &log;
    auto r = co_await start_router(io, rc);
    auto c = make_client(io, router_url(*r));

    // Each node's stream syncs (a replay from sequence 0) before the first request.
    REQUIRE(r->kv_events_stats(0) != nullptr);
    for (int waited = 0; waited < 500 && !(r->kv_events_stats(0)->synced && r->kv_events_stats(1)->synced); ++waited)
      co_await http_test::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(r->kv_events_stats(0)->synced);
    REQUIRE(r->kv_events_stats(1)->synced);
    auto batches = [&] { return r->kv_events_stats(0)->batches + r->kv_events_stats(1)->batches; };
    auto published = [&] {
      return static_cast<std::uint64_t>(f.node(0).kv_events_publisher()->next_sequence() +
                                        f.node(1).kv_events_publisher()->next_sequence());
    };
    std::string text;
    for (int i = 0; i < 120; ++i) text += "the router reads the nodes' cache events ";
    std::vector<std::string> served;
    for (int i = 0; i < 4; ++i) {
      // Two prompt families, each sent twice: the repeat must go where its blocks are.
      const std::string body = R"({"model":"test-model","max_tokens":2,"messages":[{"role":"user","content":")" +
                               std::to_string(i % 2) + " " + text + R"("}]})";
      served.push_back(co_await served_chat(c, body));
      CHECK_FALSE(served.back().empty());
      // Every batch the nodes published reaches the router before the next request (a repeat,
      // fully cached, publishes none).
      for (int waited = 0; waited < 1000 && batches() != published(); ++waited)
        co_await http_test::sleep_for(std::chrono::milliseconds(5));
      REQUIRE(batches() == published());
    }
    CHECK(served[2] == served[0]);
    CHECK(served[3] == served[1]);
    CHECK(r->metrics().requests_with_rule("precise-match") == 2);
    CHECK(r->metrics().requests_with_rule("precise-fallback") == 0);
    // Exact: the tokens the policy predicted cached are the tokens the nodes hit.
    const double hits = (co_await node_hits(io, f, 0)) + (co_await node_hits(io, f, 1));
    CHECK(hits > 0);
    CHECK(static_cast<double>(r->metrics().predicted_cached_tokens()) == hits);
    INFO(log.str());
    CHECK(log.str().empty());
    const std::string page = r->metrics_page();
    CHECK_THAT(page, Catch::Contains("pswm_route_kv_events_synced{node=\"node_0\"} 1"));
    CHECK_THAT(page, Catch::Contains("pswm_route_kv_events_lost_total{node=\"node_1\"} 0"));
    co_await finish(c, *r, f);
  });
}

TEST_CASE("route: precise without KV-events endpoints says so at start and judges nodes by lb's model", "[route]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    sim::fleet f(io.get_executor(), fleet_of(2));
    start(f);
    ps::diagnostics d;
    auto made = route::router::create(io.get_executor(), router_for(f, "precise"), d);
    REQUIRE(made.has_value());
    auto& r = **made;
    REQUIRE_FALSE(co_await r.async_start(d));
    CHECK_THAT(d.message, Catch::Contains("--kv-events-endpoints") && Catch::Contains("precise-fallback"));
    CHECK(r.kv_events_stats(0) == nullptr);
    REQUIRE(r.listen("127.0.0.1", 0, d).has_value());
    auto c = make_client(io, router_url(r));
    auto res = co_await post_json(c, "/v1/chat/completions", R"({"model":"test-model","max_tokens":2,"messages":[{"role":"user","content":"hi"}]})");
    CHECK(res.status == 200);
    CHECK(r.metrics().requests_with_rule("precise-fallback") == 1);
    co_await finish(c, r, f);
  });
}

TEST_CASE("route: KV-events endpoints must be one per node", "[route]") {
  asio::io_context io;
  route::router_config rc;
  rc.endpoints = {"http://127.0.0.1:1", "http://127.0.0.1:2"};
  rc.policy = "precise";
  rc.kv_events = {{"tcp://127.0.0.1:5557", "", ""}};
  ps::diagnostics d;
  auto made = route::router::create(io.get_executor(), rc, d);
  REQUIRE_FALSE(made.has_value());
  CHECK(made.error() == ps::make_error_code(ps::error::invalid_argument));
  CHECK_THAT(d.message, Catch::Contains("1 KV-events endpoint(s) for 2 node(s)"));
}
