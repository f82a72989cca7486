// SPDX-License-Identifier: MIT
// Client and server together on port 0: keep-alive reuse, streaming, timeouts, errors, limits.
#include <planetserve/http/client.hpp>
#include <planetserve/http/server.hpp>

#include "unit/http_test_support.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace http = planetserve::http;
using verb = boost::beast::http::verb;
using namespace std::chrono_literals;
using http_test::run_coro;
using http_test::sleep_for;
constexpr auto tuple_aw = asio::as_tuple(asio::use_awaitable);

http::client make_client(asio::io_context& io, std::uint16_t port, http::client_config cfg = {}) {
  ps::diagnostics diag;
  auto c = http::client::create(io.get_executor(), "http://127.0.0.1:" + std::to_string(port), cfg, diag);
  INFO(diag.message);
  REQUIRE(c.has_value());
  return *c;
}

std::uint16_t listen_local(http::server& srv) {
  ps::diagnostics diag;
  auto port = srv.listen("127.0.0.1", 0, diag);
  INFO(diag.message);
  REQUIRE(port.has_value());
  REQUIRE(*port != 0);
  return *port;
}

// Sends raw bytes on a fresh connection and returns everything the server sends until it closes.
asio::awaitable<std::string> raw_exchange(std::uint16_t port, std::string_view bytes) {
  asio::ip::tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
  co_await asio::async_write(s, asio::buffer(bytes), asio::use_awaitable);
  std::string out;
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), tuple_aw);
    out.append(buf, n);
    if (ec) break;
  }
  co_return out;
}

}  // namespace

TEST_CASE("http: keep-alive connection is reused across sequential requests", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::get, "/health", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "", "");
    });
    srv.route(verb::post, "/echo", [](http::server_request& req, http::server_response& res) -> asio::awaitable<void> {
      std::string body = std::string(req.header("X-Tag")) + ":" + std::string(req.body());
      co_await res.async_write_whole(200, "text/plain", body);
    });
    auto port = listen_local(srv);
    auto client = make_client(io, port);
    ps::diagnostics diag;
    for (int i = 0; i < 5; ++i) {
      auto r = co_await client.async_fetch(http::client_request::get("/health"), diag);
      INFO(diag.message);
      REQUIRE(r.has_value());
      CHECK(r->status == 200);
      CHECK(r->body.empty());
    }
    const http::header_field hdr[] = {{"X-Tag", "t1"}};
    auto r = co_await client.async_fetch(http::client_request::post("/echo", "text/plain", "hello body", hdr), diag);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->content_type == "text/plain");
    CHECK(r->body == "t1:hello body");
    CHECK(client.stats().connections_opened == 1);
    CHECK(client.stats().requests == 6);
    CHECK(client.stats().reused == 5);
    CHECK(srv.stats().connections_accepted == 1);
    CHECK(client.idle_connections() == 1);
    client.shutdown();
    co_await srv.async_shutdown(1s);
    CHECK(srv.open_connections() == 0);
  });
}

TEST_CASE("http: concurrent requests open at most max_connections connections", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    int in_flight = 0, peak = 0;
    srv.route(verb::get, "/slow", [&](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      peak = std::max(peak, ++in_flight);
      co_await sleep_for(20ms);
      --in_flight;
      co_await res.async_write_whole(200, "text/plain", "ok");
    });
    auto port = listen_local(srv);
    http::client_config cfg;
    cfg.max_connections = 3;
    auto client = make_client(io, port, cfg);
    int ok = 0;
    auto one = [&]() -> asio::awaitable<void> {
      ps::diagnostics diag;
      auto r = co_await client.async_fetch(http::client_request::get("/slow"), diag);
      if (r && r->status == 200 && r->body == "ok") ++ok;
    };
    auto ex = co_await asio::this_coro::executor;
    int finished = 0;
    for (int i = 0; i < 10; ++i)
      asio::co_spawn(ex, one(), [&](std::exception_ptr) { ++finished; });
    while (finished < 10) co_await sleep_for(5ms);
    CHECK(ok == 10);
    CHECK(peak == 3);
    CHECK(client.stats().connections_opened == 3);
    CHECK(srv.stats().connections_accepted == 3);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: streamed chunked response arrives piece by piece", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::post, "/stream", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      { auto ec_ = co_await res.async_begin_stream(200, "text/event-stream"); REQUIRE_FALSE(ec_); }
      for (int i = 0; i < 4; ++i) {
        co_await sleep_for(10ms);
        { auto ec_ = co_await res.async_write_chunk("data: " + std::to_string(i) + "\n\n"); REQUIRE_FALSE(ec_); }
      }
      { auto ec_ = co_await res.async_end_stream(); REQUIRE_FALSE(ec_); }
    });
    auto port = listen_local(srv);
    auto client = make_client(io, port);
    ps::diagnostics diag;
    auto r = co_await client.async_open(http::client_request::post("/stream", "application/json", "{}"), diag);
    REQUIRE(r.has_value());
    CHECK(r->status() == 200);
    CHECK(r->content_type() == "text/event-stream");
    CHECK(r->header("Transfer-Encoding") == "chunked");
    std::string all;
    int pieces = 0;
    http::clock::time_point prev = r->sent();
    for (;;) {
      auto piece = co_await r->async_read_some(diag);
      INFO(diag.message);
      REQUIRE(piece.has_value());
      if (piece->bytes.empty()) break;
      CHECK(piece->arrived >= prev);
      prev = piece->arrived;
      all.append(piece->bytes);
      ++pieces;
    }
    CHECK(r->done());
    CHECK(all == "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n");
    // The writer sleeps between chunks, so they cannot all have come in one read.
    CHECK(pieces >= 2);
    CHECK(r->body_bytes() == all.size());
    CHECK(client.idle_connections() == 1);  // back in the pool once the body ended
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: read timeout, and the server learns the client went away", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    bool gone_seen = false;
    srv.route(verb::get, "/hang", [&](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor);
      t.expires_after(10s);
      res.on_client_gone([&] {
        gone_seen = true;
        t.cancel();
      });
      co_await t.async_wait(tuple_aw);
      CHECK(res.client_gone());
      auto ec = co_await res.async_write_whole(200, "text/plain", "late");
      CHECK(ec);
    });
    auto port = listen_local(srv);
    http::client_config cfg;
    cfg.read_timeout = 100ms;
    auto client = make_client(io, port, cfg);
    ps::diagnostics diag;
    auto r = co_await client.async_fetch(http::client_request::get("/hang"), diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == ps::error::timeout);
    CHECK(diag.message.find("127.0.0.1") != std::string::npos);
    CHECK(client.open_connections() == 0);
    for (int i = 0; i < 100 && !gone_seen; ++i) co_await sleep_for(5ms);
    CHECK(gone_seen);
    co_await srv.async_shutdown(1s);
    CHECK(srv.open_connections() == 0);
  });
}

TEST_CASE("http: total timeout bounds a slow trickling response", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::get, "/trickle", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_begin_stream(200, "text/plain");
      for (int i = 0; i < 200 && !res.client_gone(); ++i) {
        co_await sleep_for(10ms);
        co_await res.async_write_chunk("x");
      }
      co_await res.async_end_stream();
    });
    auto port = listen_local(srv);
    http::client_config cfg;
    cfg.read_timeout = 1s;
    cfg.total_timeout = 150ms;
    auto client = make_client(io, port, cfg);
    ps::diagnostics diag;
    auto r = co_await client.async_fetch(http::client_request::get("/trickle"), diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == ps::error::timeout);
    CHECK(diag.message.find("total timeout") != std::string::npos);
    co_await srv.async_shutdown(2s);
  });
}

TEST_CASE("http: server closing mid-stream is connection_closed, after the bytes it sent", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::get, "/cut", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_begin_stream(200, "text/event-stream");
      co_await res.async_write_chunk("data: partial\n\n");
      co_await sleep_for(10ms);
      // Returning without async_end_stream: the server must drop the connection.
    });
    auto port = listen_local(srv);
    auto client = make_client(io, port);
    ps::diagnostics diag;
    auto r = co_await client.async_open(http::client_request::get("/cut"), diag);
    REQUIRE(r.has_value());
    std::string got;
    ps::result<http::body_piece> piece;
    for (;;) {
      piece = co_await r->async_read_some(diag);
      if (!piece || piece->bytes.empty()) break;
      got.append(piece->bytes);
    }
    REQUIRE_FALSE(piece.has_value());
    CHECK(piece.error() == ps::error::connection_closed);
    CHECK(got == "data: partial\n\n");
    CHECK(diag.message.find("15 body bytes") != std::string::npos);
    // The next request gets a fresh connection and works.
    auto again = co_await client.async_fetch(http::client_request::get("/nope"), diag);
    REQUIRE(again.has_value());
    CHECK(again->status == 404);
    CHECK(client.stats().connections_opened == 2);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: 4xx and 5xx bodies reach the client; 404 and 405 from routing", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::post, "/v1/completions", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(400, "application/json",
                                     R"({"error":{"message":"bad model","type":"BadRequestError","param":null,"code":400}})");
    });
    srv.route(verb::get, "/boom", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(503, "application/json", R"({"error":"overloaded"})");
    });
    srv.route(verb::get, "/throws", [](http::server_request&, http::server_response&) -> asio::awaitable<void> {
      throw std::runtime_error("kaput");
      co_return;
    });
    auto port = listen_local(srv);
    auto client = make_client(io, port);
    ps::diagnostics diag;
    auto r = co_await client.async_fetch(http::client_request::post("/v1/completions", "application/json", "{}"), diag);
    REQUIRE(r.has_value());
    CHECK(r->status == 400);
    CHECK(r->body.find("bad model") != std::string::npos);
    r = co_await client.async_fetch(http::client_request::get("/boom"), diag);
    REQUIRE(r.has_value());
    CHECK(r->status == 503);
    CHECK(r->body == R"({"error":"overloaded"})");
    r = co_await client.async_fetch(http::client_request::get("/missing?x=1"), diag);
    REQUIRE(r.has_value());
    CHECK(r->status == 404);
    CHECK(r->body == R"({"detail":"Not Found"})");
    r = co_await client.async_fetch(http::client_request::get("/v1/completions"), diag);
    REQUIRE(r.has_value());
    CHECK(r->status == 405);
    r = co_await client.async_fetch(http::client_request::get("/throws"), diag);
    REQUIRE(r.has_value());
    CHECK(r->status == 500);
    CHECK(r->body.find("kaput") != std::string::npos);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: request body over the limit gets 413", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server_config scfg;
    scfg.max_body_size = 100;
    http::server srv(io.get_executor(), scfg);
    srv.route(verb::post, "/x", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "", "");
    });
    auto port = listen_local(srv);
    auto client = make_client(io, port);
    ps::diagnostics diag;
    std::string big(1000, 'a');
    auto r = co_await client.async_fetch(http::client_request::post("/x", "text/plain", big), diag);
    INFO(diag.message);
    REQUIRE(r.has_value());
    CHECK(r->status == 413);
    auto ok = co_await client.async_fetch(http::client_request::post("/x", "text/plain", std::string(100, 'b')), diag);
    REQUIRE(ok.has_value());
    CHECK(ok->status == 200);
    CHECK(srv.stats().bad_requests == 1);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: a request larger than the socket takes at once is sent whole", "[http]") {
  // The first sendmsg takes what the socket buffer holds; the rest goes out as the server
  // reads. Twice, so the second goes over a reused connection.
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::post, "/len", [](http::server_request& req, http::server_response& res) -> asio::awaitable<void> {
      const auto body = req.body();
      const bool intact = body.size() > 2 && body.front() == '<' && body.back() == '>' &&
                          body.find_first_not_of('x', 1) == body.size() - 1;
      co_await res.async_write_whole(200, "text/plain", std::to_string(body.size()) + (intact ? " intact" : " broken"));
    });
    auto port = listen_local(srv);
    auto client = make_client(io, port);
    for (int round = 0; round < 2; ++round) {
      const std::string big = "<" + std::string(12u << 20, 'x') + ">";
      ps::diagnostics diag;
      auto r = co_await client.async_fetch(http::client_request::post("/len", "text/plain", big), diag);
      INFO(diag.message);
      REQUIRE(r.has_value());
      CHECK(r->status == 200);
      CHECK(r->body == std::to_string(big.size()) + " intact");
    }
    CHECK(client.stats().connections_opened == 1);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: malformed request gets 400; a stalled client is disconnected", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server_config scfg;
    scfg.read_timeout = 100ms;
    http::server srv(io.get_executor(), scfg);
    auto port = listen_local(srv);
    auto out = co_await raw_exchange(port, "NOT HTTP AT ALL\r\n\r\n");
    CHECK(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    CHECK(out.find("Connection: close") != std::string::npos);
    // Half a request line, then silence: the server must give up and close.
    out = co_await raw_exchange(port, "GET /health HTTP/1.1\r\nHost: x\r\n");
    CHECK(out.empty());
    CHECK(srv.stats().bad_requests == 2);
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: pooled connection closed by the server is replaced transparently", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server_config scfg;
    scfg.read_timeout = 50ms;  // the server drops idle keep-alive connections quickly
    http::server srv(io.get_executor(), scfg);
    srv.route(verb::get, "/h", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "text/plain", "ok");
    });
    auto port = listen_local(srv);
    auto client = make_client(io, port);
    ps::diagnostics diag;
    auto r = co_await client.async_fetch(http::client_request::get("/h"), diag);
    REQUIRE(r.has_value());
    // Idle long enough to be checked before reuse: the peek sees the close, nothing is resent.
    co_await sleep_for(200ms);
    r = co_await client.async_fetch(http::client_request::get("/h"), diag);
    INFO(diag.message);
    REQUIRE(r.has_value());
    CHECK(r->body == "ok");
    CHECK(client.stats().connections_opened == 2);
    CHECK(client.stats().stale_retries == 0);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: a connection reused soon after the server closed it is resent once on a new one", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server_config scfg;
    scfg.read_timeout = 10ms;  // closes idle keep-alive connections almost at once
    http::server srv(io.get_executor(), scfg);
    unsigned served = 0;
    srv.route(verb::post, "/p", [&](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      ++served;
      co_await res.async_write_whole(200, "text/plain", "ok");
    });
    auto port = listen_local(srv);
    auto client = make_client(io, port);
    ps::diagnostics diag;
    auto r = co_await client.async_fetch(http::client_request::post("/p", "text/plain", "1"), diag);
    REQUIRE(r.has_value());
    // Closed by the server, but back in the pool too recently to be peeked at: the request
    // goes out on the dead connection, finds it closed before any answer, and is resent. Sent
    // as soon as the server has closed it (a fixed wait could outlast "recently" on a busy machine).
    for (int waited = 0; waited < 2000 && srv.open_connections() != 0; ++waited) co_await sleep_for(1ms);
    REQUIRE(srv.open_connections() == 0);
    r = co_await client.async_fetch(http::client_request::post("/p", "text/plain", "2"), diag);
    INFO(diag.message);
    REQUIRE(r.has_value());
    CHECK(r->body == "ok");
    CHECK(client.stats().connections_opened == 2);
    CHECK(client.stats().stale_retries == 1);
    CHECK(served == 2);  // each request reached the handler once
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: client shutdown cancels a pending streamed read", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::get, "/s", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_begin_stream(200, "text/plain");
      while (!res.client_gone()) co_await sleep_for(5ms);
    });
    auto port = listen_local(srv);
    auto client = make_client(io, port);
    ps::diagnostics diag;
    auto r = co_await client.async_open(http::client_request::get("/s"), diag);
    REQUIRE(r.has_value());
    asio::co_spawn(co_await asio::this_coro::executor, [&]() -> asio::awaitable<void> {
      co_await sleep_for(30ms);
      client.shutdown();
    }, asio::detached);
    auto piece = co_await r->async_read_some(diag);
    REQUIRE_FALSE(piece.has_value());
    CHECK(piece.error() == ps::error::cancelled);
    auto after = co_await client.async_fetch(http::client_request::get("/s"), diag);
    REQUIRE_FALSE(after.has_value());
    CHECK(after.error() == ps::error::cancelled);
    co_await srv.async_shutdown(1s);
    CHECK(srv.open_connections() == 0);
  });
}

TEST_CASE("http: graceful server shutdown lets an in-flight stream finish", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::get, "/s", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_begin_stream(200, "text/plain");
      for (int i = 0; i < 5; ++i) {
        co_await sleep_for(10ms);
        co_await res.async_write_chunk("y");
      }
      co_await res.async_end_stream();
    });
    auto port = listen_local(srv);
    auto client = make_client(io, port);
    ps::diagnostics diag;
    auto r = co_await client.async_open(http::client_request::get("/s"), diag);
    REQUIRE(r.has_value());
    bool shut = false;
    asio::co_spawn(co_await asio::this_coro::executor, [&]() -> asio::awaitable<void> {
      co_await srv.async_shutdown(5s);
      shut = true;
    }, asio::detached);
    std::string body;
    auto ec = co_await r->async_read_rest(body, diag);
    CHECK_FALSE(ec);
    CHECK(body == "yyyyy");
    while (!shut) co_await sleep_for(5ms);
    // Not accepting any more.
    auto refused = co_await client.async_fetch(http::client_request::get("/s"), diag);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == ps::error::connection_failed);
    client.shutdown();
  });
}

TEST_CASE("http: Expect 100-continue gets an interim response before the body is sent", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::post, "/up", [](http::server_request& req, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "text/plain", req.body());
    });
    auto port = listen_local(srv);
    asio::ip::tcp::socket s(io);
    co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
    const std::string head =
        "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
    co_await asio::async_write(s, asio::buffer(head), asio::use_awaitable);
    char buf[256];
    std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::use_awaitable);
    CHECK(std::string_view(buf, n) == "HTTP/1.1 100 Continue\r\n\r\n");
    co_await asio::async_write(s, asio::buffer(std::string_view("hello")), asio::use_awaitable);
    std::string rest;
    for (;;) {
      auto [ec, m] = co_await s.async_read_some(asio::buffer(buf), tuple_aw);
      rest.append(buf, m);
      if (ec) break;
    }
    CHECK(rest.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(rest.size() >= 5);
    CHECK(rest.substr(rest.size() - 5) == "hello");
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: response body over the client's limit is body_too_large", "[http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::get, "/big", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      const std::string body(5000, 'z');
      co_await res.async_write_whole(200, "text/plain", body);
    });
    srv.route(verb::get, "/bigstream", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_begin_stream(200, "text/plain");
      const std::string piece(1000, 'z');
      for (int i = 0; i < 5 && !res.client_gone(); ++i) co_await res.async_write_chunk(piece);
      co_await res.async_end_stream();
    });
    auto port = listen_local(srv);
    http::client_config cfg;
    cfg.max_body_size = 4096;
    auto client = make_client(io, port, cfg);
    ps::diagnostics diag;
    auto r = co_await client.async_fetch(http::client_request::get("/big"), diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == ps::error::body_too_large);
    CHECK(diag.message.find("4096") != std::string::npos);
    r = co_await client.async_fetch(http::client_request::get("/bigstream"), diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == ps::error::body_too_large);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("http: a body piece is stamped when it arrived, not when a busy client read it", "[http]") {
  // The server runs on its own thread, so it writes while the client's thread is blocked.
  asio::io_context server_io;
  http::server srv(server_io.get_executor());
  // The chunk's write is bracketed by two clock reads: it reached the client's socket between them.
  std::atomic<std::int64_t> writing_ns{0}, written_ns{0};
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(http::clock::now().time_since_epoch()).count();
  };
  srv.route(verb::post, "/stream", [&](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
    { auto ec_ = co_await res.async_begin_stream(200, "text/event-stream"); REQUIRE_FALSE(ec_); }
    co_await sleep_for(5ms);
    writing_ns = now_ns();
    { auto ec_ = co_await res.async_write_chunk("data: 1\n\n"); REQUIRE_FALSE(ec_); }
    written_ns = now_ns();
    co_await sleep_for(100ms);
    { auto ec_ = co_await res.async_end_stream(); REQUIRE_FALSE(ec_); }
  });
  const auto port = listen_local(srv);
  std::thread server_thread([&] { server_io.run_for(10s); });
  run_coro([&](asio::io_context& io) -> asio::awaitable<void> {
    auto client = make_client(io, port);
    ps::diagnostics diag;
    auto r = co_await client.async_open(http::client_request::post("/stream", "application/json", "{}"), diag);
    REQUIRE(r.has_value());
    // The event loop is busy (blocked) while the chunk arrives, and for 60 ms after it was written.
    for (int waited = 0; waited < 10000 && written_ns.load() == 0; ++waited) std::this_thread::sleep_for(1ms);
    REQUIRE(written_ns.load() != 0);
    std::this_thread::sleep_for(60ms);
    const auto read_at = http::clock::now();
    auto piece = co_await r->async_read_some(diag);
    REQUIRE(piece.has_value());
    REQUIRE(piece->bytes == "data: 1\n\n");
    const http::clock::time_point writing{std::chrono::nanoseconds(writing_ns.load())};
    const http::clock::time_point written{std::chrono::nanoseconds(written_ns.load())};
    using ms = std::chrono::duration<double, std::milli>;
    INFO("arrived " << ms(piece->arrived - writing).count() << " ms after the write began ("
                    << ms(written - writing).count() << " ms to write); read " << ms(read_at - writing).count()
                    << " ms after it began");
    // Stamped on arrival, within the write (a little slack for the kernel's own stamp), and
    // not when the busy loop read it, 60 ms later.
    CHECK(piece->arrived > writing - 1ms);
    CHECK(piece->arrived < written + 5ms);
    CHECK(read_at - piece->arrived > 50ms);
    client.shutdown();
  });
  asio::post(server_io, [&] {
    srv.stop();
    server_io.stop();
  });
  server_thread.join();
}
