// SPDX-License-Identifier: MIT
// TLS client tests against a test server whose certificate is generated at run time.
#include <planetserve/http/client.hpp>

#include "unit/http_test_support.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace http = planetserve::http;
constexpr auto tuple_aw = asio::as_tuple(asio::use_awaitable);

// Accepts TLS connections one at a time and answers every request with "hello".
struct tls_test_server {
  tls_test_server(asio::io_context& io, const http_test::cert_pair& cert)
      : ctx(asio::ssl::context::tls_server), acceptor(io) {
    ctx.use_certificate_chain(asio::buffer(cert.cert_pem));
    ctx.use_private_key(asio::buffer(cert.key_pem), asio::ssl::context::pem);
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(ep.protocol());
    acceptor.bind(ep);
    acceptor.listen();
    port = acceptor.local_endpoint().port();
  }

  asio::awaitable<void> serve() {
    running = true;
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(tuple_aw);
      if (ec) {
        running = false;
        co_return;
      }
      asio::ssl::stream<asio::ip::tcp::socket> s(std::move(sock), ctx);
      auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::server, tuple_aw);
      if (hec) {
        ++failed_handshakes;
        continue;
      }
      boost::beast::flat_buffer buf;
      boost::beast::http::request<boost::beast::http::string_body> req;
      auto [rec, n] = co_await boost::beast::http::async_read(s, buf, req, tuple_aw);
      if (rec) continue;
      ++served;
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
      co_await asio::async_write(s, asio::buffer(resp), tuple_aw);
      co_await s.async_shutdown(tuple_aw);
    }
  }

  asio::ssl::context ctx;
  asio::ip::tcp::acceptor acceptor;
  std::uint16_t port = 0;
  int served = 0;
  int failed_handshakes = 0;
  bool running = false;

  // Stops accepting and waits for serve() to return, so that it never outlives this object.
  asio::awaitable<void> stop() {
    acceptor.close();
    while (running) co_await http_test::sleep_for(std::chrono::milliseconds(5));
  }
};

std::string write_temp_pem(const std::string& pem, const char* tag) {
  auto path = std::filesystem::temp_directory_path() /
              ("pswm_http_tls_" + std::string(tag) + "_" + std::to_string(::getpid()) + ".pem");
  std::ofstream(path) << pem;
  return path.string();
}

// Arguments by reference to named objects: GCC 12 destroys a temporary passed by value to a
// coroutine twice.
asio::awaitable<ps::result<http::response>> fetch(asio::io_context& io, const std::string& url,
                                                  const http::client_config& cfg,
                                                  ps::diagnostics& diag) {
  auto c = http::client::create(io.get_executor(), url, cfg, diag);
  if (!c) co_return c.error();
  auto r = co_await c->async_fetch(http::client_request::get("/"), diag);
  c->shutdown();
  co_return r;
}

}  // namespace

TEST_CASE("http tls: self-signed server against system store, CA file, insecure", "[http][tls]") {
  const auto cert = http_test::make_self_signed("IP:127.0.0.1,DNS:localhost");
  const std::string ca = write_temp_pem(cert.cert_pem, "ca");
  http_test::run_coro([&](asio::io_context& io) -> asio::awaitable<void> {
    tls_test_server srv(io, cert);
    asio::co_spawn(io, srv.serve(), asio::detached);
    const std::string url = "https://127.0.0.1:" + std::to_string(srv.port);
    ps::diagnostics diag;

    // Verification is on by default, and the system store does not know our CA.
    const http::client_config defaults;
    auto r = co_await fetch(io, url, defaults, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == ps::error::tls_failed);
    CHECK(diag.message.find("rejected") != std::string::npos);
    CHECK(diag.message.find(url.substr(0, 17)) != std::string::npos);

    http::client_config with_ca;
    with_ca.ca_file = ca;
    r = co_await fetch(io, url, with_ca, diag);
    INFO(diag.message);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->body == "hello");

    // By host name: SNI and name check against DNS:localhost.
    const std::string by_name = "https://localhost:" + std::to_string(srv.port);
    r = co_await fetch(io, by_name, with_ca, diag);
    INFO(diag.message);
    REQUIRE(r.has_value());
    CHECK(r->body == "hello");

    http::client_config insecure;
    insecure.insecure = true;
    r = co_await fetch(io, url, insecure, diag);
    REQUIRE(r.has_value());
    CHECK(r->body == "hello");
    CHECK(srv.served == 3);
    co_await srv.stop();
  });
  std::filesystem::remove(ca);
}

TEST_CASE("http tls: certificate for another host is rejected even with its CA", "[http][tls]") {
  const auto cert = http_test::make_self_signed("DNS:other.example");
  const std::string ca = write_temp_pem(cert.cert_pem, "other");
  http_test::run_coro([&](asio::io_context& io) -> asio::awaitable<void> {
    tls_test_server srv(io, cert);
    asio::co_spawn(io, srv.serve(), asio::detached);
    ps::diagnostics diag;
    http::client_config cfg;
    cfg.ca_file = ca;
    const std::string url = "https://127.0.0.1:" + std::to_string(srv.port);
    auto r = co_await fetch(io, url, cfg, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == ps::error::tls_failed);
    CHECK(diag.message.find("mismatch") != std::string::npos);
    // The same certificate is accepted when checks are off.
    cfg.insecure = true;
    r = co_await fetch(io, url, cfg, diag);
    REQUIRE(r.has_value());
    CHECK(r->body == "hello");
    co_await srv.stop();
  });
  std::filesystem::remove(ca);
}

TEST_CASE("http tls: unreadable CA file fails at client creation, naming the file", "[http][tls]") {
  asio::io_context io;
  ps::diagnostics diag;
  http::client_config cfg;
  cfg.ca_file = "/nonexistent/pswm-ca.pem";
  auto c = http::client::create(io.get_executor(), "https://127.0.0.1:1", cfg, diag);
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error() == ps::error::tls_failed);
  CHECK(diag.message.find("/nonexistent/pswm-ca.pem") != std::string::npos);
}
