// SPDX-License-Identifier: MIT
// planetserve::http::server: small coroutine HTTP/1.1 server with routing and streamed responses.
#pragma once

#include <planetserve/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace planetserve::http {

namespace detail {
struct server_state;
struct server_session;
}  // namespace detail

/// Server settings.
struct server_config {
  /// Largest request body; a larger one gets 413 and the connection is closed.
  std::size_t max_body_size = 16u << 20;
  /// Largest request header block; a larger one gets 431 and the connection is closed.
  std::size_t max_header_size = 64u << 10;
  /// Longest wait for the next request on a connection (headers and body, idle keep-alive
  /// time included); a stalled client is disconnected.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  /// Longest a single response write may take (a client that stops reading is dropped).
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  /// The JSON body of the server's own refusals (400 malformed, 404, 405, 413, 431) for a
  /// status and message; null: FastAPI's `{"detail": message}`. A router answering like vLLM
  /// sets openai::error_body.
  std::function<std::string(unsigned status, std::string_view message)> refusal_body;
};

/// A received request. Valid for the handler's duration.
class server_request {
 public:
  /// The Beast message the request wraps.
  using message_type = boost::beast::http::request<boost::beast::http::string_body>;

  /// Wraps a parsed request.
  explicit server_request(message_type m) : msg_(std::move(m)) {}

  /// The request method.
  boost::beast::http::verb method() const noexcept { return msg_.method(); }
  /// The request target as sent: path and query.
  std::string_view target() const noexcept { return {msg_.target().data(), msg_.target().size()}; }
  /// The target's path (before any '?').
  std::string_view path() const noexcept { return target().substr(0, target().find('?')); }
  /// A header's value, "" if absent.
  std::string_view header(std::string_view name) const;
  /// The request body.
  std::string_view body() const noexcept { return msg_.body(); }
  /// The whole Beast message, for anything else.
  const message_type& message() const noexcept { return msg_; }

 private:
  message_type msg_;
};

/// The handler's side of the response. Reply once with async_write_whole, or stream:
/// async_begin_stream, any number of async_write_chunk, then async_end_stream. Every call
/// returns an error_code rather than throwing; once the client has gone they fail at once.
class server_response {
 public:
  /// The response side of session `s` (made by the server for each request).
  explicit server_response(detail::server_session& s) noexcept : s_(&s) {}

  /// Adds a header to the response (before writing begins). Name and value must not hold
  /// line breaks (checked: a bad header is dropped).
  void set_header(std::string_view name, std::string_view value);

  /// Sends a complete response with Content-Length.
  boost::asio::awaitable<boost::system::error_code> async_write_whole(unsigned status,
                                                                      std::string_view content_type,
                                                                      std::string_view body);
  /// Sends the status line and headers with Transfer-Encoding: chunked.
  boost::asio::awaitable<boost::system::error_code> async_begin_stream(
      unsigned status, std::string_view content_type);
  /// Sends one chunk now (TCP_NODELAY is on, so it leaves at once). Empty data is a no-op.
  boost::asio::awaitable<boost::system::error_code> async_write_chunk(std::string_view data);
  /// Sends the terminating chunk.
  boost::asio::awaitable<boost::system::error_code> async_end_stream();
  /// async_begin_stream then async_write_chunk(first_chunk), in one socket write: one
  /// wake-up of the client instead of two (the emulator's hot path).
  boost::asio::awaitable<boost::system::error_code> async_begin_stream(
      unsigned status, std::string_view content_type, std::string_view first_chunk);
  /// async_write_chunk(last_chunk) then async_end_stream, in one socket write.
  boost::asio::awaitable<boost::system::error_code> async_end_stream(std::string_view last_chunk);
  /// A whole chunked stream in one socket write: head, `only_chunk`, terminating chunk.
  /// For a stream whose every event is already due (the emulator's zero-time steps).
  boost::asio::awaitable<boost::system::error_code> async_write_stream(
      unsigned status, std::string_view content_type, std::string_view only_chunk);

  /// Whether the client disconnected (or a write failed) while the handler ran.
  bool client_gone() const noexcept;
  /// Runs `f` once when the client disconnects while the handler runs (not after).
  void on_client_gone(std::function<void()> f);
  /// Whether the response head has been sent.
  bool started() const noexcept;
  /// Whether the response is complete.
  bool finished() const noexcept;
  /// Close the connection after this response even if the client wants keep-alive.
  void close_after() noexcept;
  /// Drop the connection with a reset once the handler returns, without answering (for fault
  /// injection: what a crashed worker or a resetting proxy looks like to the client).
  void reset_connection() noexcept;

 private:
  boost::asio::awaitable<boost::system::error_code> async_begin_stream(
      unsigned status, std::string_view content_type, std::string_view first_chunk, bool end);
  detail::server_session* s_;
};

/// A route handler. It may suspend freely; the server runs one handler per connection at a time.
using server_handler = std::function<boost::asio::awaitable<void>(server_request&, server_response&)>;

/// Counters for tests and reports.
struct server_stats {
  std::uint64_t connections_accepted = 0;  ///< TCP connections accepted
  std::uint64_t requests = 0;              ///< requests handed to handlers or refused (4xx)
  std::uint64_t bad_requests = 0;          ///< malformed, too large, or timed out mid-request
};

/// Listens on one address. Routes are exact method+path matches; an unknown path gets 404,
/// a known path with another method 405, both with a FastAPI-style `{"detail": ...}` body.
class server {
 public:
  /// A server on `ex` with `config`'s limits; nothing is bound until it listens.
  explicit server(boost::asio::any_io_executor ex, server_config config = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Adds a route. Add routes before listen().
  void route(boost::beast::http::verb method, std::string path, server_handler h);

  /// Binds `host:port` (port 0: an ephemeral port) and starts accepting. Returns the bound
  /// port. Errors: connection_failed with diag naming the address (in use, bad host...).
  result<std::uint16_t> listen(std::string_view host, std::uint16_t port, diagnostics& diag);

  /// The bound port (0 before listen()).
  std::uint16_t port() const noexcept;

  /// Stops accepting and closes idle connections; requests being handled finish, then their
  /// connections close.
  void stop() noexcept;

  /// stop(), then waits up to `grace` for in-flight requests to finish; after that closes
  /// their connections (handlers see client_gone()) and waits for the handlers to return.
  boost::asio::awaitable<void> async_shutdown(std::chrono::milliseconds grace);

  /// Open connections now.
  std::size_t open_connections() const noexcept;
  /// Counters since construction.
  const server_stats& stats() const noexcept;

 private:
  std::shared_ptr<detail::server_state> state_;
};

}  // namespace planetserve::http
