// SPDX-License-Identifier: MIT
// Compiled body of planetserve::http::client: pool, connect/TLS, request writing, response reading.
#pragma once

#include <planetserve/http/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_set>
#include <variant>
#include <vector>

namespace planetserve::http {
namespace detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using tls_stream = asio::ssl::stream<beast::tcp_stream>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct client_waiter {
  explicit client_waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool woken = false;
};

struct client_connection {
  client_connection(client_pool& p, const asio::any_io_executor& ex);
  ~client_connection();
  client_connection(const client_connection&) = delete;
  client_connection& operator=(const client_connection&) = delete;

  beast::tcp_stream& lowest() noexcept {
    return stream.index() == 0 ? std::get<0>(stream) : std::get<1>(stream).next_layer();
  }

  client_pool* pool;
  std::variant<beast::tcp_stream, tls_stream> stream;
  beast::flat_buffer in;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
  std::string head;  // the request head, rebuilt in place for each request
  clock::time_point idle_since{};
  clock::time_point last_read{};
  std::array<char, 16384> body_buf;
  // Read timeouts of plain connections. Beast's tcp_stream arms and cancels a timer for
  // every read, i.e. for every streamed token; instead one timer per response is armed at
  // the first read's limit and, when it fires during a later read, moved to that read's
  // limit. Only a read that is still pending past its own limit times out.
  asio::steady_timer watch;
  clock::time_point read_limit = clock::time_point::max();  // the pending read's limit
  bool reading = false;    // a plain read is pending
  bool watching = false;   // `watch` has a wait pending (or a fired one not yet run)
  bool timed_out = false;  // `watch` cancelled the pending read
  // Plain connections read with recvmsg to get the kernel's arrival stamp (SO_TIMESTAMPNS).
  bool kernel_stamps = false;
  // Whether bytes may already be queued: the last read filled the buffer. Otherwise (and
  // right after a request was sent) wait for readiness first instead of a read that fails.
  bool more_queued = false;
  unsigned eager_reads = 0;  // reads in a row that found bytes without waiting
  std::shared_ptr<client_connection*> self;  // nulled on destruction; the watch handler checks it
};

struct client_pool {
  asio::any_io_executor ex;
  url base;
  std::string host_header;  // "host:port" as it goes on the wire
  std::string_view base_path;  // base.target without a trailing '/'
  client_config cfg;
  std::optional<asio::ssl::context> ssl;
  std::optional<std::vector<tcp::endpoint>> endpoints;
  // `all` and `waiters` before `idle`: members die in reverse order, and an idle connection's
  // destructor unregisters from `all` and wakes a waiter.
  std::unordered_set<client_connection*> all;
  std::deque<client_waiter*> waiters;
  std::vector<std::unique_ptr<client_connection>> idle;
  client_stats stats;
  bool closed = false;

  void wake_one() {
    if (waiters.empty()) return;
    client_waiter* w = waiters.front();
    waiters.pop_front();
    w->woken = true;
    w->timer.cancel();
  }
};

inline client_connection::client_connection(client_pool& p, const asio::any_io_executor& ex)
    : pool(&p), stream(std::in_place_index<0>, ex), watch(ex), self(std::make_shared<client_connection*>(this)) {
  pool->all.insert(this);
}

inline client_connection::~client_connection() {
  *self = nullptr;
  pool->all.erase(this);
  pool->wake_one();
}

inline void append_ms(std::string& out, std::chrono::milliseconds d) {
  out += std::to_string(d.count());
  out += " ms";
}

// Turns a transport error into the library's code, with a message naming the origin.
inline error_code map_io_error(client_pool& p, error_code ec, std::string_view while_doing,
                               clock::time_point deadline, diagnostics& diag) {
  diag.message = p.base.origin();
  if (p.closed || ec == asio::error::operation_aborted) {
    diag.message += ": cancelled while ";
    diag.message.append(while_doing);
    return error::cancelled;
  }
  if (ec == beast::error::timeout) {
    if (clock::now() >= deadline) {
      diag.message += ": total timeout of ";
      append_ms(diag.message, p.cfg.total_timeout);
      diag.message += " exceeded while ";
    } else {
      diag.message += ": no progress for ";
      append_ms(diag.message, p.cfg.read_timeout);
      diag.message += " while ";
    }
    diag.message.append(while_doing);
    return error::timeout;
  }
  diag.message += ": connection lost while ";
  diag.message.append(while_doing);
  diag.message += " (";
  diag.message += ec.message();
  diag.message += ')';
  return error::connection_closed;
}

inline clock::time_point io_limit(const client_pool& p, clock::time_point deadline) {
  auto t = clock::now() + p.cfg.read_timeout;
  return std::min(t, deadline);
}

inline void set_expiry(beast::tcp_stream& s, clock::time_point limit) {
  if (limit == clock::time_point::max())
    s.expires_never();
  else
    s.expires_at(limit);
}

// A connection back in the pool for less than this is handed out without looks_alive's
// peek (a syscall per request at high rates). Servers drop idle connections after seconds
// (uvicorn 5 s); one dropped sooner fails the request before any byte arrives, and the
// stale retry in async_open sends it again on a new connection. What the peek would also
// catch, bytes a server sends unasked on an idle connection (a 408 before it closes), comes
// at its idle timeout too, not within this; if it did, it would be read as the answer.
inline constexpr std::chrono::milliseconds recent_use{100};

// A pooled connection the server has closed shows EOF to a non-blocking peek.
inline bool looks_alive(client_connection& c) {
  auto& sock = c.lowest().socket();
  if (!sock.is_open()) return false;
  error_code ec;
  // Only this peek uses the socket synchronously; set the mode once, not per request.
  if (!sock.non_blocking()) sock.non_blocking(true, ec);
  if (ec) return false;
  char b;
  std::size_t n = sock.receive(asio::buffer(&b, 1), tcp::socket::message_peek, ec);
  if (ec == asio::error::would_block) return true;
  if (ec) return false;
  // Unsolicited bytes on a plain connection mean we cannot trust it; over TLS they are
  // usually session tickets, which the TLS layer will consume.
  return n == 1 && c.stream.index() == 1;
}

inline asio::awaitable<error_code> connect(client_pool& p, client_connection& c,
                                           clock::time_point deadline, diagnostics& diag) {
  using namespace asio::experimental::awaitable_operators;
  const auto limit = std::min(deadline, clock::now() + p.cfg.connect_timeout);
  auto timed_out = [&](std::string_view what) {
    diag.message = p.base.origin();
    diag.message += ": ";
    diag.message.append(what);
    diag.message += " took longer than ";
    append_ms(diag.message, std::min(p.cfg.connect_timeout,
                                     std::chrono::duration_cast<std::chrono::milliseconds>(
                                         p.cfg.total_timeout.count() > 0 ? p.cfg.total_timeout
                                                                         : p.cfg.connect_timeout)));
    return make_error_code(error::timeout);
  };
  if (!p.endpoints) {
    error_code aec;
    auto addr = asio::ip::make_address(p.base.host, aec);
    if (!aec) {
      p.endpoints.emplace(1, tcp::endpoint(addr, p.base.port));
    } else {
      tcp::resolver resolver(p.ex);
      asio::steady_timer timer(p.ex);
      timer.expires_at(limit);
      auto r = co_await (resolver.async_resolve(p.base.host, std::to_string(p.base.port), use_tuple) ||
                         timer.async_wait(use_tuple));
      if (r.index() == 1) co_return timed_out("resolving the host name");
      auto& [ec, results] = std::get<0>(r);
      if (ec || results.empty()) {
        diag.message = p.base.origin();
        diag.message += ": cannot resolve host '" + p.base.host + "' (" + ec.message() + ')';
        co_return error::connection_failed;
      }
      std::vector<tcp::endpoint> eps;
      for (const auto& e : results) eps.push_back(e.endpoint());
      p.endpoints.emplace(std::move(eps));
    }
  }
  auto& tcp_s = std::get<0>(c.stream);
  set_expiry(tcp_s, limit);
  auto [ec, ep] = co_await tcp_s.async_connect(*p.endpoints, use_tuple);
  if (ec) {
    p.endpoints.reset();  // resolve again next time: the address may have changed
    if (p.closed) co_return map_io_error(p, ec, "connecting", deadline, diag);
    if (ec == beast::error::timeout) co_return timed_out("connecting");
    diag.message = "cannot connect to " + p.base.origin() + " (" + ec.message() + ')';
    co_return error::connection_failed;
  }
  error_code ignored;
  tcp_s.socket().set_option(tcp::no_delay(true), ignored);
  if (!p.base.tls) {
    // Arrival times come from the kernel, so a busy event loop does not delay them.
    const int on = 1;
    auto& sock = tcp_s.socket();
    sock.non_blocking(true, ignored);
    c.kernel_stamps = !ignored && ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
    co_return error_code{};
  }

  beast::tcp_stream plain = std::move(tcp_s);
  auto& s = c.stream.emplace<1>(std::move(plain), *p.ssl);
  SSL* ssl = s.native_handle();
  error_code not_ip;
  asio::ip::make_address(p.base.host, not_ip);
  if (not_ip) {
    // SSL_set_tlsext_host_name is a macro with a C cast; call what it expands to.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(p.base.host.c_str()));
    if (!p.cfg.insecure) SSL_set1_host(ssl, p.base.host.c_str());
  } else if (!p.cfg.insecure) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p.base.host.c_str());
  }
  set_expiry(s.next_layer(), limit);
  auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, use_tuple);
  if (hec) {
    if (p.closed) co_return map_io_error(p, hec, "TLS handshake", deadline, diag);
    if (hec == beast::error::timeout) co_return timed_out("the TLS handshake");
    long vr = SSL_get_verify_result(ssl);
    if (!p.cfg.insecure && vr != X509_V_OK) {
      diag.message = "TLS certificate of " + p.base.origin() + " rejected: " +
                     X509_verify_cert_error_string(vr) +
                     " (trust its CA with a CA file, or skip the check with the insecure option)";
    } else {
      diag.message = "TLS handshake with " + p.base.origin() + " failed: " + hec.message();
    }
    co_return error::tls_failed;
  }
  co_return error_code{};
}

// A canceller reaches an open's connection only while the open uses it: cleared on return.
struct untarget_on_exit {
  open_target* t;
  ~untarget_on_exit() {
    if (t) t->conn = nullptr;
  }
};

// The open's caller gave up (open_canceller::cancel).
inline error_code open_cancelled(const client_pool& p, std::string_view while_doing, diagnostics& diag) {
  diag.message = p.base.origin() + ": cancelled by the caller while " + std::string(while_doing);
  return error::cancelled;
}

// Hands out an idle connection, opens a new one, or waits for one to come back. `t` (may be
// null) is told the connection being opened or the wait, so a canceller can end them.
inline asio::awaitable<error_code> acquire(client_pool& p, std::unique_ptr<client_connection>& out,
                                           bool& reused, clock::time_point deadline,
                                           diagnostics& diag, open_target* t) {
  for (;;) {
    if (p.closed) {
      diag.message = p.base.origin() + ": client shut down";
      co_return error::cancelled;
    }
    if (t && t->cancelled) co_return open_cancelled(p, "waiting for a connection", diag);
    const auto now = clock::now();
    while (!p.idle.empty()) {
      std::unique_ptr<client_connection> c = std::move(p.idle.back());
      p.idle.pop_back();
      const auto idle = now - c->idle_since;
      if (idle <= p.cfg.idle_timeout && (idle < recent_use || looks_alive(*c))) {
        out = std::move(c);
        reused = true;
        co_return error_code{};
      }
    }
    if (p.all.size() < p.cfg.max_connections) {
      auto c = std::make_unique<client_connection>(p, p.ex);
      if (t) t->conn = c.get();
      error_code ec = co_await connect(p, *c, deadline, diag);
      if (t) t->conn = nullptr;
      if (t && t->cancelled) co_return open_cancelled(p, "connecting", diag);
      if (ec) co_return ec;
      ++p.stats.connections_opened;
      out = std::move(c);
      reused = false;
      co_return error_code{};
    }
    client_waiter w(p.ex);
    w.timer.expires_at(deadline);
    p.waiters.push_back(&w);
    if (t) t->waiter = &w;
    co_await w.timer.async_wait(use_tuple);
    if (t) t->waiter = nullptr;
    if (!w.woken) {
      auto it = std::find(p.waiters.begin(), p.waiters.end(), &w);
      if (it != p.waiters.end()) p.waiters.erase(it);
      if (p.closed) continue;
      if (t && t->cancelled) co_return open_cancelled(p, "waiting for a free connection", diag);
      diag.message = p.base.origin() + ": no free connection (all " +
                     std::to_string(p.cfg.max_connections) + " busy) before the total timeout";
      co_return error::timeout;
    }
    if (t && t->cancelled) {
      p.wake_one();  // the connection this wait was woken for goes to the next waiter
      co_return open_cancelled(p, "waiting for a free connection", diag);
    }
  }
}

inline bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

inline bool is_field_value_ok(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

inline error_code build_head(const client_pool& p, const client_request& req, std::string& head,
                             diagnostics& diag) {
  auto bad = [&](std::string what) {
    diag.message = p.base.origin() + ": refusing to send request: " + what;
    return make_error_code(error::invalid_argument);
  };
  if (req.target.empty() || req.target.front() != '/') return bad("target must start with '/'");
  if (!is_field_value_ok(req.target) || req.target.find(' ') != std::string_view::npos)
    return bad("target contains a space or line break");
  if (!is_field_value_ok(req.content_type)) return bad("Content-Type contains a line break");
  head.clear();
  auto method = bhttp::to_string(req.method);
  head.append(method.data(), method.size());
  head += ' ';
  head.append(p.base_path);
  head.append(req.target);
  head += " HTTP/1.1\r\nHost: ";
  head += p.host_header;
  head += "\r\n";
  if (!p.cfg.user_agent.empty()) {
    head += "User-Agent: ";
    head += p.cfg.user_agent;
    head += "\r\n";
  }
  if (!req.content_type.empty()) {
    head += "Content-Type: ";
    head.append(req.content_type);
    head += "\r\n";
  }
  if (!req.body.empty() || req.method == bhttp::verb::post || req.method == bhttp::verb::put ||
      req.method == bhttp::verb::patch) {
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, req.body.size());
    head += "Content-Length: ";
    head.append(num, r.ptr);
    head += "\r\n";
  }
  for (const auto& h : req.headers) {
    if (h.name.empty() || !std::all_of(h.name.begin(), h.name.end(), is_token_char))
      return bad("header name '" + std::string(h.name) + "' is not a valid token");
    // The value is deliberately not quoted: it may be an API key.
    if (!is_field_value_ok(h.value)) return bad("value of header '" + std::string(h.name) + "' contains a line break");
    head.append(h.name);
    head += ": ";
    head.append(h.value);
    head += "\r\n";
  }
  head += "\r\n";
  return {};
}

// Arms the connection's read watch at the pending read's limit unless it is armed already.
inline void watch_read(client_connection& c) {
  if (c.watching || c.read_limit == clock::time_point::max()) return;
  c.watching = true;
  c.watch.expires_at(c.read_limit);
  c.watch.async_wait([self = c.self](error_code ec) {
    client_connection* cp = *self;
    if (ec || !cp) return;  // cancelled, or the connection is gone
    auto& conn = *cp;
    conn.watching = false;
    if (!conn.reading) return;  // between reads: the next read arms it again
    if (clock::now() < conn.read_limit) {
      watch_read(conn);  // the pending read started later: wait for its own limit
      return;
    }
    conn.timed_out = true;
    error_code ignored;
    conn.lowest().socket().cancel(ignored);
  });
}

// Disarms the read watch (the response is over, or the connection goes idle).
inline void unwatch(client_connection& c) noexcept {
  // Cancelled even when not marked armed: a stale expiry may have re-armed nothing but left
  // a wait pending, and a pending wait would keep the io_context running.
  c.watching = false;
  c.watch.cancel();
}

// One non-blocking recvmsg. On success `arrived` is when the kernel received the newest
// bytes read (SO_TIMESTAMPNS, moved from the real-time clock to the steady one), or now
// when the kernel gave no stamp. Returns the byte count, 0 at EOF, -1 with `err` set.
inline std::ptrdiff_t recv_stamped(int fd, asio::mutable_buffer buf, clock::time_point& arrived, int& err) {
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) {
    err = errno;
    return -1;
  }
  arrived = clock::now();
  for (cmsghdr* h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec stamp{};
    std::memcpy(&stamp, CMSG_DATA(h), sizeof stamp);
    timespec real{};
    if ((stamp.tv_sec == 0 && stamp.tv_nsec == 0) || ::clock_gettime(CLOCK_REALTIME, &real) != 0) break;
    const long long age_ns = (static_cast<long long>(real.tv_sec) - stamp.tv_sec) * 1'000'000'000LL +
                             (static_cast<long long>(real.tv_nsec) - stamp.tv_nsec);
    // A stamp from the future or older than a second means the wall clock was stepped.
    if (age_ns >= 0 && age_ns < 1'000'000'000LL) arrived -= std::chrono::nanoseconds(age_ns);
    break;
  }
  return n;
}

// One non-blocking sendmsg of both buffers; `written` gets the bytes taken (0 when the
// socket is full). Errors other than a full socket are returned.
inline error_code send_now(int fd, const std::array<asio::const_buffer, 2>& bufs, std::size_t& written) {
  iovec iov[2]{{const_cast<void*>(bufs[0].data()), bufs[0].size()},
               {const_cast<void*>(bufs[1].data()), bufs[1].size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  for (;;) {
    const ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      written = static_cast<std::size_t>(n);
      return {};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
    return error_code(errno, asio::error::get_system_category());
  }
}

// Drops the first `n` bytes from the two buffers.
inline void skip_sent(std::array<asio::const_buffer, 2>& bufs, std::size_t n) {
  for (auto& b : bufs) {
    const std::size_t k = std::min(n, b.size());
    b += k;
    n -= k;
  }
}

// One socket read into c.in; stamps the arrival time before anything parses the bytes.
inline asio::awaitable<error_code> fill(client_connection& c, clock::time_point limit) {
  asio::mutable_buffer buf;
  try {
    buf = c.in.prepare(c.body_buf.size());
  } catch (const std::length_error&) {
    co_return bhttp::error::buffer_overflow;
  }
  if (c.stream.index() == 0 && c.kernel_stamps) {
    auto& sock = std::get<0>(c.stream).socket();
    c.read_limit = limit;
    c.reading = true;
    watch_read(c);
    error_code ec;
    std::size_t got = 0;
    bool try_now = c.more_queued;
    // A fast sender (a 50 MB /metrics page over loopback) would keep this loop reading
    // without ever suspending, holding every other coroutine for the whole body: after 16
    // reads in a row (256 KiB) it lets the event loop run once.
    if (try_now && ++c.eager_reads >= 16) {
      c.eager_reads = 0;
      co_await asio::post(sock.get_executor(), asio::use_awaitable);
    }
    for (;;) {
      if (try_now) {
        int err = 0;
        const auto n = recv_stamped(sock.native_handle(), buf, c.last_read, err);
        if (n > 0) {
          got = static_cast<std::size_t>(n);
          break;
        }
        if (n == 0) {
          ec = asio::error::eof;
          break;
        }
        if (err == EINTR) continue;
        if (err != EAGAIN && err != EWOULDBLOCK) {
          ec = error_code(err, asio::error::get_system_category());
          break;
        }
      }
      try_now = true;
      c.eager_reads = 0;
      auto [wec] = co_await sock.async_wait(tcp::socket::wait_read, use_tuple);
      if (wec) {
        ec = wec;
        break;
      }
    }
    c.reading = false;
    c.more_queued = got == buf.size();
    if (c.timed_out && got == 0) ec = beast::error::timeout;
    c.in.commit(got);
    co_return ec;
  }
  std::tuple<error_code, std::size_t> r;
  if (c.stream.index() == 0) {
    // The raw socket: the timeout is the connection's watch (see client_connection).
    c.read_limit = limit;
    c.reading = true;
    watch_read(c);
    r = co_await std::get<0>(c.stream).socket().async_read_some(buf, use_tuple);
    c.reading = false;
    if (c.timed_out && std::get<1>(r) == 0) std::get<0>(r) = beast::error::timeout;
  } else {
    set_expiry(c.lowest(), limit);
    r = co_await std::get<1>(c.stream).async_read_some(buf, use_tuple);
  }
  c.last_read = clock::now();
  c.in.commit(std::get<1>(r));
  co_return std::get<0>(r);
}

// A new response parser on `c` with the pool's limits (one per response head, 1xx included).
inline bhttp::response_parser<bhttp::buffer_body>& fresh_parser(client_connection& c, const client_pool& p,
                                                                bool head_only) {
  auto& fp = c.parser.emplace();
  fp.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(p.cfg.max_header_size, UINT32_MAX)));
  fp.body_limit(p.cfg.max_body_size);
  if (head_only) fp.skip(true);
  return fp;
}

inline bool is_stale_error(error_code ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == asio::ssl::error::stream_truncated;
}

inline error_code framing_error(client_pool& p, error_code ec, diagnostics& diag) {
  diag.message = p.base.origin();
  if (ec == bhttp::error::body_limit) {
    diag.message += ": response body larger than the limit of " +
                    std::to_string(p.cfg.max_body_size) + " bytes";
    return error::body_too_large;
  }
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    diag.message += ": response header block larger than the limit of " +
                    std::to_string(p.cfg.max_header_size) + " bytes";
    return error::header_too_large;
  }
  diag.message += ": malformed HTTP response (" + ec.message() + ')';
  return error::malformed_http;
}

}  // namespace detail

// ---- response_reader ----

response_reader::response_reader() noexcept = default;
response_reader::response_reader(response_reader&&) noexcept = default;

response_reader& response_reader::operator=(response_reader&& other) noexcept {
  if (this != &other) {
    close();
    pool_ = std::move(other.pool_);
    conn_ = std::move(other.conn_);
    content_type_ = std::move(other.content_type_);
    sent_ = other.sent_;
    head_arrived_ = other.head_arrived_;
    deadline_ = other.deadline_;
    body_bytes_ = other.body_bytes_;
    status_ = other.status_;
    done_ = other.done_;
    truncated_ = other.truncated_;
  }
  return *this;
}

response_reader::~response_reader() { close(); }

void response_reader::close() noexcept {
  if (!conn_) return;
  auto& c = *conn_;
  // A fully read keep-alive response leaves a reusable connection; anything else is dropped.
  if (done_ && pool_ && !pool_->closed && c.parser && c.parser->keep_alive() && c.in.size() == 0 && !c.timed_out) {
    detail::unwatch(c);
    c.parser.reset();
    c.idle_since = clock::now();
    pool_->idle.push_back(std::move(conn_));
    pool_->wake_one();
  } else {
    conn_.reset();
  }
}

std::string_view response_reader::header(std::string_view name) const {
  if (!conn_ || !conn_->parser) return {};
  const auto& fields = conn_->parser->get();
  auto it = fields.find(name);
  if (it == fields.end()) return {};
  auto v = it->value();
  return {v.data(), v.size()};
}

void open_canceller::cancel() noexcept {
  if (target_.cancelled) return;
  target_.cancelled = true;
  if (auto* c = target_.conn) {
    boost::system::error_code ec;
    detail::unwatch(*c);
    c->lowest().socket().close(ec);  // the pending connect, write or read ends with an error
  }
  if (auto* w = target_.waiter) w->timer.cancel();
}

void response_reader::cancel() noexcept {
  if (!conn_) return;
  boost::system::error_code ec;
  detail::unwatch(*conn_);
  conn_->lowest().socket().close(ec);
}

boost::asio::awaitable<result<body_piece>> response_reader::async_read_some(diagnostics& diag) {
  namespace bhttp = detail::bhttp;
  using detail::error_code;
  if (done_) {
    clock::time_point t = conn_ ? conn_->last_read : clock::now();
    close();
    co_return body_piece{{}, t};
  }
  if (!conn_ || !pool_) {
    diag.message = "response reader used after close";
    co_return error::connection_closed;
  }
  auto pool = pool_;  // keeps the pool alive across suspension
  auto& c = *conn_;
  auto& parser = *c.parser;
  for (;;) {
    if (c.in.size() > 0) {
      auto& body = parser.get().body();
      body.data = c.body_buf.data();
      body.size = c.body_buf.size();
      error_code ec;
      std::size_t used = parser.put(c.in.data(), ec);
      c.in.consume(used);
      const std::size_t produced = c.body_buf.size() - body.size;
      if (ec == bhttp::error::need_buffer || ec == bhttp::error::need_more) ec = {};
      if (ec) {
        error_code out = detail::framing_error(*pool, ec, diag);
        conn_.reset();
        co_return out;
      }
      if (parser.is_done()) done_ = true;
      if (produced > 0) {
        body_bytes_ += produced;
        co_return body_piece{std::string_view(c.body_buf.data(), produced), c.last_read};
      }
      if (done_) {
        clock::time_point t = c.last_read;
        close();
        co_return body_piece{{}, t};
      }
      if (used > 0 && c.in.size() > 0) continue;
    }
    error_code ec = co_await detail::fill(c, std::min(detail::io_limit(*pool, deadline_), deadline_));
    if (ec == detail::asio::error::eof && !pool->closed) {
      error_code eof_ec;
      parser.put_eof(eof_ec);
      if (!eof_ec && parser.is_done()) {
        done_ = true;
        conn_.reset();  // a body ended by close cannot be followed by another response
        co_return body_piece{{}, clock::now()};
      }
      diag.message = pool->base.origin() + ": server closed the connection after " +
                     std::to_string(body_bytes_) + " body bytes, before the response ended";
      conn_.reset();
      co_return error::connection_closed;
    }
    if (ec == bhttp::error::buffer_overflow) {
      error_code out = detail::framing_error(*pool, ec, diag);
      conn_.reset();
      co_return out;
    }
    if (ec) {
      error_code out = detail::map_io_error(*pool, ec, "reading the response body", deadline_, diag);
      conn_.reset();
      co_return out;
    }
  }
}

boost::asio::awaitable<boost::system::error_code> response_reader::async_read_rest(
    std::string& out, diagnostics& diag) {
  for (;;) {
    auto piece = co_await async_read_some(diag);
    if (!piece) co_return piece.error();
    if (piece->bytes.empty() && done_) co_return boost::system::error_code{};
    out.append(piece->bytes);
  }
}

boost::asio::awaitable<boost::system::error_code> response_reader::async_read_error_body(
    std::string& out, diagnostics& diag) {
  if (!pool_) {
    diag.message = "response reader used after close";
    co_return make_error_code(error::connection_closed);
  }
  const std::size_t keep = pool_->cfg.max_error_body_size;
  const std::uint64_t drain = pool_->cfg.error_drain_limit;
  std::size_t kept = 0;
  std::uint64_t dropped = 0;
  for (;;) {
    auto piece = co_await async_read_some(diag);
    if (!piece) co_return piece.error();
    if (piece->bytes.empty() && done_) co_return boost::system::error_code{};
    const std::size_t take = std::min(piece->bytes.size(), keep - kept);
    out.append(piece->bytes.substr(0, take));
    kept += take;
    if (take < piece->bytes.size()) {
      truncated_ = true;
      dropped += piece->bytes.size() - take;
      if (dropped > drain && !done_) {
        // Reading on would cost the whole body; a new connection costs a handshake.
        conn_.reset();
        co_return boost::system::error_code{};
      }
    }
  }
}

// ---- client ----

result<client> client::create(boost::asio::any_io_executor ex, std::string_view base_url,
                              client_config config, diagnostics& diag) {
  auto u = parse_url(base_url, diag);
  if (!u) return u.error();
  if (config.max_connections == 0 || config.read_timeout.count() <= 0 ||
      config.connect_timeout.count() <= 0) {
    diag.message = "client for " + u->origin() +
                   ": max_connections, read_timeout and connect_timeout must be positive";
    return error::invalid_argument;
  }
  auto p = std::make_shared<detail::client_pool>();
  p->ex = std::move(ex);
  p->base = std::move(*u);
  p->cfg = std::move(config);
  const bool v6 = p->base.host.find(':') != std::string::npos;
  p->host_header = v6 ? '[' + p->base.host + ']' : p->base.host;
  if (p->base.port != (p->base.tls ? 443 : 80)) p->host_header += ':' + std::to_string(p->base.port);
  p->base_path = p->base.target;
  if (auto q = p->base_path.find('?'); q != std::string_view::npos) {
    diag.message = "bad URL '" + std::string(base_url) + "': a base URL cannot carry a query";
    return error::bad_url;
  }
  while (!p->base_path.empty() && p->base_path.back() == '/') p->base_path.remove_suffix(1);
  if (p->base.tls) {
    namespace ssl = boost::asio::ssl;
    p->ssl.emplace(ssl::context::tls_client);
    boost::system::error_code ec;
    if (p->cfg.insecure) {
      p->ssl->set_verify_mode(ssl::verify_none, ec);
    } else {
      p->ssl->set_verify_mode(ssl::verify_peer, ec);
      if (!p->cfg.ca_file.empty()) {
        p->ssl->load_verify_file(p->cfg.ca_file, ec);
        if (ec) {
          diag.message = "cannot load CA file '" + p->cfg.ca_file + "' for " + p->base.origin() +
                         " (" + ec.message() + ')';
          return error::tls_failed;
        }
      } else {
        p->ssl->set_default_verify_paths(ec);
        if (ec) {
          diag.message = "cannot load the system's CA certificates for " + p->base.origin() +
                         " (" + ec.message() + "); pass a CA file";
          return error::tls_failed;
        }
      }
    }
  }
  return client(std::move(p));
}

boost::asio::awaitable<result<response_reader>> client::async_open(const client_request& req,
                                                                   diagnostics& diag,
                                                                   open_canceller* canceller) {
  namespace bhttp = detail::bhttp;
  using detail::error_code;
  auto pool = pool_;
  auto& p = *pool;
  detail::open_target* target = canceller ? &canceller->target_ : nullptr;
  detail::untarget_on_exit untarget{target};
  const clock::time_point deadline = p.cfg.total_timeout.count() > 0
                                         ? clock::now() + p.cfg.total_timeout
                                         : clock::time_point::max();
  unsigned resent = 0;
  for (;;) {
    std::unique_ptr<detail::client_connection> conn;
    bool reused = false;
    if (target) target->conn = nullptr;  // a stale connection dropped in the last round
    error_code ec = co_await detail::acquire(p, conn, reused, deadline, diag, target);
    if (ec) co_return ec;
    auto& c = *conn;
    if (target) target->conn = &c;
    ec = detail::build_head(p, req, c.head, diag);
    if (ec) {
      c.idle_since = clock::now();
      p.idle.push_back(std::move(conn));
      co_return ec;
    }
    const bool head_only = req.method == bhttp::verb::head;
    auto* parser_ptr = &detail::fresh_parser(c, p, head_only);
    int interim = 0;
    ++p.stats.requests;
    if (reused) ++p.stats.reused;

    std::array<detail::asio::const_buffer, 2> bufs{detail::asio::buffer(c.head),
                                                   detail::asio::buffer(req.body)};
    // On a plain connection the request usually fits the idle socket's send buffer: one
    // sendmsg now, with no write operation or timer; only a remainder waits for the socket.
    std::size_t written = 0;
    if (c.stream.index() == 0 && c.kernel_stamps)
      ec = detail::send_now(std::get<0>(c.stream).socket().native_handle(), bufs, written);
    if (!ec && written < c.head.size() + req.body.size()) {
      detail::skip_sent(bufs, written);
      detail::set_expiry(c.lowest(), detail::io_limit(p, deadline));
      std::tuple<error_code, std::size_t> wr;
      if (c.stream.index() == 0)
        wr = co_await detail::asio::async_write(std::get<0>(c.stream), bufs, detail::use_tuple);
      else
        wr = co_await detail::asio::async_write(std::get<1>(c.stream), bufs, detail::use_tuple);
      ec = std::get<0>(wr);
    }
    const clock::time_point sent = clock::now();
    c.more_queued = false;  // the answer cannot be there yet: wait before reading
    bool got_bytes = false;
    const char* doing = "sending the request";
    if (!ec) {
      doing = "waiting for the response head";
      for (;;) {
        if (c.in.size() > 0) {
          std::size_t used = parser_ptr->put(c.in.data(), ec);
          c.in.consume(used);
          if (ec == bhttp::error::need_more) {
            ec = {};
          } else if (ec) {
            // Includes a Content-Length over the body limit, found as the header completes.
            error_code out = detail::framing_error(p, ec, diag);
            co_return out;
          }
          if (parser_ptr->is_header_done()) {
            const unsigned st = parser_ptr->get().result_int();
            if (st == 101) {
              diag.message = p.base.origin() + ": unexpected 101 Switching Protocols (no upgrade was asked for)";
              co_return error::malformed_http;
            }
            // RFC 9110 15.2: 1xx heads (100 Continue, 103 Early Hints) are interim; the
            // final response follows on the same connection.
            if (st < 100 || st > 199) break;
            if (++interim > 16) {
              diag.message = p.base.origin() + ": more than 16 interim (1xx) responses before the final one";
              co_return error::malformed_http;
            }
            parser_ptr = &detail::fresh_parser(c, p, head_only);
            if (c.in.size() > 0) continue;
          }
        }
        ec = co_await detail::fill(c, detail::io_limit(p, deadline));
        if (ec == bhttp::error::buffer_overflow) co_return detail::framing_error(p, ec, diag);
        if (c.in.size() > 0) got_bytes = true;
        if (ec) break;
      }
    }
    if (target && target->cancelled) {
      // Whatever the last read brought, the caller has gone: the connection is not reused.
      conn.reset();
      co_return detail::open_cancelled(p, doing, diag);
    }
    if (ec) {
      const bool stale = p.cfg.resend_on_stale && reused && !got_bytes && !p.closed && detail::is_stale_error(ec);
      conn.reset();
      if (stale) {
        ++p.stats.stale_retries;
        ++resent;
        continue;
      }
      if (ec == detail::asio::error::eof && got_bytes) {
        diag.message = p.base.origin() + ": server closed the connection in the middle of the response head";
        co_return error::connection_closed;
      }
      co_return detail::map_io_error(p, ec, doing, deadline, diag);
    }
    auto& parser = *parser_ptr;
    response_reader r;
    r.status_ = parser.get().result_int();
    auto ct = parser.get()[bhttp::field::content_type];
    r.content_type_.assign(ct.data(), ct.size());
    r.sent_ = sent;
    r.resent_ = resent;
    r.head_arrived_ = c.last_read;
    r.deadline_ = deadline;
    r.done_ = parser.is_done();
    parser.eager(true);
    r.pool_ = std::move(pool);
    r.conn_ = std::move(conn);
    co_return r;
  }
}

boost::asio::awaitable<result<response>> client::async_fetch(const client_request& req,
                                                             diagnostics& diag) {
  auto r = co_await async_open(req, diag);
  if (!r) co_return r.error();
  response out;
  out.status = r->status();
  out.content_type.assign(r->content_type());
  out.sent = r->sent();
  if (out.status < 200 || out.status > 299) {
    if (auto ec = co_await r->async_read_error_body(out.body, diag)) co_return ec;
    out.body_truncated = r->body_truncated();
    out.last_byte = clock::now();
    co_return out;
  }
  auto len = r->header("Content-Length");
  std::uint64_t n = 0;
  if (!len.empty() && std::from_chars(len.data(), len.data() + len.size(), n).ec == std::errc() &&
      n <= pool_->cfg.max_body_size)
    out.body.reserve(static_cast<std::size_t>(n));
  out.last_byte = r->head_arrived();
  for (;;) {
    auto piece = co_await r->async_read_some(diag);
    if (!piece) co_return piece.error();
    if (piece->bytes.empty() && r->done()) break;
    out.body.append(piece->bytes);
    out.last_byte = piece->arrived;
  }
  co_return out;
}

void client::shutdown() noexcept {
  auto& p = *pool_;
  p.closed = true;
  p.idle.clear();
  for (auto* c : std::vector<detail::client_connection*>(p.all.begin(), p.all.end())) {
    boost::system::error_code ec;
    detail::unwatch(*c);
    c->lowest().socket().close(ec);
  }
  while (!p.waiters.empty()) p.wake_one();
}

const url& client::base() const noexcept { return pool_->base; }
const client_stats& client::stats() const noexcept { return pool_->stats; }
std::size_t client::open_connections() const noexcept { return pool_->all.size(); }
std::size_t client::idle_connections() const noexcept { return pool_->idle.size(); }

}  // namespace planetserve::http
