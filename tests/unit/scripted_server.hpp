// SPDX-License-Identifier: MIT
// A misbehaving HTTP/1.1 server for tests: each request's raw answer bytes come from a script.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

namespace scripted {

namespace asio = boost::asio;

/// What the script sees of a request.
struct request {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< "/v1/models", ...
  std::string body;    ///< the request body (by Content-Length)
};

/// The raw bytes to send back (then `tail`, shared so that big bodies are not copied per
/// answer), and whether to close the connection after them.
struct answer {
  std::string bytes;
  bool close = false;
  std::shared_ptr<const std::string> tail;
};

/// The head of an `HTTP/1.1 <status>` response whose body is `length` bytes (keep-alive).
inline std::string http_head(int status, std::string_view content_type, std::size_t length) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  if (!content_type.empty()) out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(length) + "\r\n\r\n";
  return out;
}

/// A whole `HTTP/1.1 <status>` response with a Content-Length body (keep-alive).
inline std::string http_response(int status, std::string_view content_type, std::string_view body) {
  return http_head(status, content_type, body.size()) + std::string(body);
}

/// Listens on 127.0.0.1, port 0; answers every request with script(request). Counts
/// connections accepted and requests read. Lives as long as its io_context runs it.
class server {
 public:
  using script_fn = std::function<answer(const request&)>;

  server(asio::io_context& io, script_fn script)
      : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}), state_(std::make_shared<state>()) {
    state_->script = std::move(script);
    asio::co_spawn(io, accept_loop(), asio::detached);
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  std::size_t connections() const { return state_->connections; }
  std::size_t requests() const { return state_->requests; }
  void close() {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

 private:
  struct state {
    script_fn script;
    std::size_t connections = 0;
    std::size_t requests = 0;
  };

  asio::awaitable<void> accept_loop() {
    constexpr auto tuple_aw = asio::as_tuple(asio::use_awaitable);
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(tuple_aw);
      if (ec) co_return;
      ++state_->connections;
      asio::co_spawn(acceptor_.get_executor(), serve(std::move(sock), state_), asio::detached);
    }
  }

  static asio::awaitable<void> serve(asio::ip::tcp::socket sock, std::shared_ptr<state> st) {
    constexpr auto tuple_aw = asio::as_tuple(asio::use_awaitable);
    std::string in;
    char buf[8192];
    for (;;) {
      std::size_t head_end;
      while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), tuple_aw);
        if (ec) co_return;
        in.append(buf, n);
      }
      request req;
      const std::string head = in.substr(0, head_end);
      const auto sp1 = head.find(' ');
      const auto sp2 = head.find(' ', sp1 + 1);
      req.method = head.substr(0, sp1);
      req.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
      std::size_t length = 0;
      for (std::string_view key : {"Content-Length: ", "content-length: "})
        if (auto at = head.find(key); at != std::string::npos) length = std::stoul(head.substr(at + key.size()));
      while (in.size() < head_end + 4 + length) {
        auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), tuple_aw);
        if (ec) co_return;
        in.append(buf, n);
      }
      req.body = in.substr(head_end + 4, length);
      in.erase(0, head_end + 4 + length);
      ++st->requests;
      const answer a = st->script(req);
      auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(a.bytes), tuple_aw);
      if (!wec && a.tail) std::tie(wec, wn) = co_await asio::async_write(sock, asio::buffer(*a.tail), tuple_aw);
      if (wec || a.close) {
        boost::system::error_code ignored;
        sock.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        co_return;
      }
    }
  }

  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<state> state_;
};

}  // namespace scripted
