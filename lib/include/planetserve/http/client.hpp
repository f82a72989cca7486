// SPDX-License-Identifier: MIT
// planetserve::http::client: coroutine HTTP/1.1 client for one origin, keep-alive pool, TLS, timeouts.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/http/url.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace planetserve::http {

namespace detail {
struct client_connection;
struct client_pool;
struct client_waiter;
// What an open_canceller reaches: the connection the open uses now, or its wait for one.
struct open_target {
  client_connection* conn = nullptr;
  client_waiter* waiter = nullptr;
  bool cancelled = false;
};
}  // namespace detail

/// The clock every arrival time is taken on.
using clock = std::chrono::steady_clock;

/// One extra request header. Values are never logged (they may hold an API key).
struct header_field {
  std::string_view name;   ///< e.g. "Authorization"
  std::string_view value;  ///< e.g. "Bearer sk-..."
};

/// What to send. Views must stay valid until async_open / async_fetch completes.
struct client_request {
  boost::beast::http::verb method = boost::beast::http::verb::get;  ///< GET, POST, ...
  std::string_view target = "/";           ///< path and query, appended to the base URL's path
  std::string_view content_type;           ///< Content-Type of `body`; empty: none sent
  std::string_view body;                   ///< request body; Content-Length is always sent for POST/PUT
  std::span<const header_field> headers;   ///< extra headers

  /// A GET of `t`.
  static client_request get(std::string_view t, std::span<const header_field> h = {}) {
    client_request r;
    r.target = t;
    r.headers = h;
    return r;
  }
  /// A POST of `b` (of type `ct`) to `t`.
  static client_request post(std::string_view t, std::string_view ct, std::string_view b,
                             std::span<const header_field> h = {}) {
    client_request r;
    r.method = boost::beast::http::verb::post;
    r.target = t;
    r.content_type = ct;
    r.body = b;
    r.headers = h;
    return r;
  }
};

/// Client settings; one client serves one origin (scheme, host, port).
struct client_config {
  /// Most connections open at once to the origin; further requests wait for one to free up.
  std::size_t max_connections = 512;
  /// Longest wait to resolve the host and connect (and finish the TLS handshake).
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  /// Longest silence while sending the request or waiting for more response bytes.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(300)};
  /// Longest time for a whole request, from asking for a connection to the last byte; 0: none.
  std::chrono::milliseconds total_timeout{0};
  /// A pooled connection idle longer than this is closed, not reused (uvicorn drops at 5 s).
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(4)};
  /// Largest response header block, in bytes.
  std::size_t max_header_size = 64u << 10;
  /// Largest response body, in bytes (streams included).
  std::uint64_t max_body_size = 256u << 20;
  /// Bytes of a non-2xx body kept (async_fetch, response_reader::async_read_error_body): an
  /// error's text needs no more, and a misbehaving server's megabytes must not pile up.
  std::size_t max_error_body_size = 4u << 10;
  /// Bytes of a non-2xx body read past the kept ones and dropped so the connection can be
  /// reused; a longer body closes the connection instead of being read.
  std::uint64_t error_drain_limit = 64u << 10;
  /// PEM file of CA certificates to trust instead of the system store (https only).
  std::string ca_file;
  /// Skip certificate verification (https only). Off by default; say so loudly in CLIs.
  bool insecure = false;
  /// User-Agent header value; empty: none sent.
  std::string user_agent = "pswm";
  /// Send a request again on a fresh connection when a reused one turns out dead before any
  /// response byte (the keep-alive race); response_reader::resent() counts it.
  bool resend_on_stale = true;
};

/// A whole response (for /health, /metrics, /v1/models, /tokenize ...).
struct response {
  unsigned status = 0;        ///< HTTP status code
  std::string content_type;   ///< Content-Type, empty if none
  std::string body;           ///< the whole body, decoded from chunked if needed (non-2xx: its start)
  bool body_truncated = false;  ///< a non-2xx body was longer than max_error_body_size and was cut
  clock::time_point sent;     ///< when the request's last byte was handed to the socket
  clock::time_point last_byte;  ///< when the body's last byte arrived
};

/// Body bytes as they arrived. `bytes` stays valid until the next read or the reader's end.
struct body_piece {
  std::string_view bytes;      ///< decoded body bytes (chunk framing removed); empty at the end
  clock::time_point arrived;   ///< when the socket read that brought them completed
};

/// A response being read incrementally. Returned by client::async_open once the status
/// line and headers are in. When the body ends, the connection goes back to the pool at
/// once; dropping a reader before then closes the connection (the bytes cannot be reused).
class response_reader {
 public:
  response_reader() noexcept;
  /// Moves the reader (and the connection it reads from).
  response_reader(response_reader&&) noexcept;
  /// Moves the reader; a connection this one held mid-body is closed.
  response_reader& operator=(response_reader&&) noexcept;
  ~response_reader();

  /// HTTP status code.
  unsigned status() const noexcept { return status_; }
  /// A response header's value ("" if absent). Valid until the body ends.
  std::string_view header(std::string_view name) const;
  /// The Content-Type header, copied (stays valid after the body ends).
  std::string_view content_type() const noexcept { return content_type_; }
  /// When the request's last byte was handed to the socket.
  clock::time_point sent() const noexcept { return sent_; }
  /// When the read that completed the header block finished.
  clock::time_point head_arrived() const noexcept { return head_arrived_; }
  /// Times the request was sent again on a fresh connection because a pooled one had died
  /// before any response byte (the server may have seen and dropped the earlier copies).
  unsigned resent() const noexcept { return resent_; }
  /// Whether the whole body has been read.
  bool done() const noexcept { return done_; }
  /// Body bytes read so far.
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }

  /// Reads the next piece of the body. At the end: an empty piece and done() is true.
  /// Errors: error::timeout, connection_closed (the server closed mid-body),
  /// body_too_large, header_too_large, malformed_http (bad framing), cancelled (client shut down).
  boost::asio::awaitable<result<body_piece>> async_read_some(diagnostics& diag);

  /// Reads the rest of the body into `out` (appending).
  boost::asio::awaitable<boost::system::error_code> async_read_rest(std::string& out,
                                                                     diagnostics& diag);

  /// Reads an error (non-2xx) body: appends at most the client's max_error_body_size bytes
  /// to `out`, drops up to error_drain_limit more so the connection stays reusable, and
  /// closes the connection rather than read a longer one. body_truncated() then says whether
  /// bytes were dropped. Errors as async_read_some.
  boost::asio::awaitable<boost::system::error_code> async_read_error_body(std::string& out,
                                                                           diagnostics& diag);
  /// Whether async_read_error_body dropped bytes.
  bool body_truncated() const noexcept { return truncated_; }

  /// Abandons the response and closes its connection.
  void close() noexcept;

  /// Closes the connection's socket at once, even while an async_read_some is suspended on
  /// it (which then ends with an error): for a caller whose own client has gone. The reader
  /// is of no further use.
  void cancel() noexcept;

 private:
  friend class client;
  std::shared_ptr<detail::client_pool> pool_;
  std::unique_ptr<detail::client_connection> conn_;
  std::string content_type_;
  clock::time_point sent_{};
  clock::time_point head_arrived_{};
  clock::time_point deadline_ = clock::time_point::max();
  std::uint64_t body_bytes_ = 0;
  unsigned status_ = 0;
  unsigned resent_ = 0;
  bool done_ = false;
  bool truncated_ = false;
};

/// Ends a client::async_open from outside before the response head arrives: for a caller
/// whose own client has gone (a router) while the open waits for a free connection,
/// connects, sends, or waits for the head. cancel() closes the connection the open uses (or
/// stops its wait for one) and the open fails with error::cancelled. Pass one to each open
/// (it may serve successive opens); it must outlive the opens. Once the head is in, cancel
/// the response_reader instead.
class open_canceller {
 public:
  /// Ends the open in progress now, and makes every later open through this one fail at once.
  void cancel() noexcept;
  /// Whether cancel() was called.
  bool cancelled() const noexcept { return target_.cancelled; }

 private:
  friend class client;
  detail::open_target target_;
};

/// Counters for tests and reports.
struct client_stats {
  std::uint64_t connections_opened = 0;  ///< TCP (and TLS) connections established
  std::uint64_t requests = 0;            ///< requests written
  std::uint64_t reused = 0;              ///< requests sent on a pooled keep-alive connection
  std::uint64_t stale_retries = 0;       ///< requests resent because a pooled connection had died
};

/// An HTTP/1.1 client for one origin. Cheap to copy (shared state); all copies share
/// the pool. Use from the executor it was made with (one thread, no locks).
class client {
 public:
  /// Makes a client for `base_url` (http or https; its path becomes a prefix of every
  /// target). Fails with bad_url, or tls_failed when `ca_file` cannot be loaded.
  static result<client> create(boost::asio::any_io_executor ex, std::string_view base_url,
                               client_config config, diagnostics& diag);

  /// Sends `req` and reads the response's status line and headers. Any status is a success
  /// here; the caller decides what a 4xx means. A pooled connection that turns out to have
  /// been closed by the server is replaced and the request resent once per dead connection.
  /// `canceller` (optional) lets the caller end the open before the head arrives.
  boost::asio::awaitable<result<response_reader>> async_open(const client_request& req,
                                                             diagnostics& diag,
                                                             open_canceller* canceller = nullptr);

  /// Sends `req` and reads the whole response.
  boost::asio::awaitable<result<response>> async_fetch(const client_request& req,
                                                       diagnostics& diag);

  /// Closes every connection, idle or busy; pending and later operations fail with
  /// error::cancelled.
  void shutdown() noexcept;

  /// The origin and base path this client talks to.
  const url& base() const noexcept;
  /// Counters since creation.
  const client_stats& stats() const noexcept;
  /// Connections open now (idle plus busy).
  std::size_t open_connections() const noexcept;
  /// Idle keep-alive connections in the pool now.
  std::size_t idle_connections() const noexcept;

 private:
  explicit client(std::shared_ptr<detail::client_pool> p) : pool_(std::move(p)) {}
  std::shared_ptr<detail::client_pool> pool_;
};

}  // namespace planetserve::http
