// SPDX-License-Identifier: MIT
// Compiled body of planetserve::http::server: accept loop, sessions, routing, response writing.
#pragma once

#include <planetserve/detail/rethrow.hpp>
#include <planetserve/http/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include <array>
#include <charconv>
#include <exception>
#include <optional>
#include <unordered_set>
#include <vector>

namespace planetserve::http {
namespace detail {

namespace sasio = boost::asio;
namespace sbeast = boost::beast;
namespace shttp = boost::beast::http;
using stcp = sasio::ip::tcp;
using serror_code = boost::system::error_code;
constexpr auto server_use_tuple = sasio::as_tuple(sasio::use_awaitable);

struct route_entry {
  shttp::verb method;
  std::string path;
  server_handler handler;
};

struct server_state {
  explicit server_state(sasio::any_io_executor e, server_config c)
      : ex(std::move(e)), cfg(std::move(c)) {}
  sasio::any_io_executor ex;
  server_config cfg;
  std::vector<route_entry> routes;
  std::optional<stcp::acceptor> acceptor;
  std::uint16_t port = 0;
  std::unordered_set<server_session*> sessions;
  server_stats stats;
  bool stopping = false;
  sasio::steady_timer* drain_timer = nullptr;

  void close_all(bool busy_too) {
    for (auto* s : std::vector<server_session*>(sessions.begin(), sessions.end())) close(*s, busy_too);
  }
  static void close(server_session& s, bool busy_too);
};

struct server_session {
  server_session(server_state& st, stcp::socket sock) : state(st), stream(std::move(sock)) {
    state.sessions.insert(this);
  }
  ~server_session() {
    state.sessions.erase(this);
    if (state.sessions.empty() && state.drain_timer) state.drain_timer->cancel();
  }
  server_session(const server_session&) = delete;
  server_session& operator=(const server_session&) = delete;

  void mark_gone() {
    if (gone) return;
    gone = true;
    if (handling && gone_cb) {
      auto f = std::move(gone_cb);
      gone_cb = nullptr;
      f();
    }
  }

  server_state& state;
  sbeast::tcp_stream stream;
  sbeast::flat_buffer buf;
  std::string out;            // response head scratch, reused
  std::string extra_headers;  // set_header() lines for the current response
  std::function<void()> gone_cb;
  std::array<char, 24> size_line{};
  bool handling = false;
  bool gone = false;
  bool started = false;
  bool finished = false;
  bool close_after = false;
  bool reset = false;  // reset_connection(): drop unanswered, with an RST
  bool keep_alive_req = true;
};

inline void server_state::close(server_session& s, bool busy_too) {
  if (s.handling && !busy_too) return;
  serror_code ec;
  if (s.handling)
    s.stream.socket().close(ec);
  else
    s.stream.socket().cancel(ec);
}

inline void append_number(std::string& out, std::uint64_t v, int base = 10) {
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, v, base);
  out.append(num, r.ptr);
}

inline void build_response_head(server_session& s, unsigned status, std::string_view content_type,
                                bool chunked, std::size_t length) {
  auto& o = s.out;
  o.clear();
  o += "HTTP/1.1 ";
  append_number(o, status);
  o += ' ';
  auto reason = shttp::obsolete_reason(shttp::int_to_status(status));
  if (reason.empty()) o += "Unknown"; else o.append(reason.data(), reason.size());
  o += "\r\n";
  if (!content_type.empty()) {
    o += "Content-Type: ";
    o.append(content_type);
    o += "\r\n";
  }
  if (chunked) {
    o += "Transfer-Encoding: chunked\r\n";
  } else {
    o += "Content-Length: ";
    append_number(o, length);
    o += "\r\n";
  }
  if (s.close_after || !s.keep_alive_req || s.state.stopping) {
    s.close_after = true;
    o += "Connection: close\r\n";
  }
  o += s.extra_headers;
  o += "\r\n";
}

template <class Buffers>
sasio::awaitable<serror_code> write_buffers(server_session& s, const Buffers& bufs) {
  if (s.gone) co_return error::connection_closed;
  s.stream.expires_after(s.state.cfg.write_timeout);
  auto [ec, n] = co_await sasio::async_write(s.stream, bufs, server_use_tuple);
  (void)n;
  if (ec) {
    s.mark_gone();
    co_return ec == sbeast::error::timeout ? make_error_code(error::timeout) : ec;
  }
  co_return serror_code{};
}

// Reads from the raw socket (not the tcp_stream, so its timer is left to the writes) while the
// handler runs: EOF or an error means the client went away. Bytes mean a pipelined request:
// keep them for the next parse.
inline sasio::awaitable<void> watch_client(server_session& s) {
  serror_code ec;
  std::size_t n = 0;
  {
    auto buf = s.buf.prepare(4096);
    std::tie(ec, n) = co_await s.stream.socket().async_read_some(buf, server_use_tuple);
    s.buf.commit(n);
  }
  if (ec && !(ec == sasio::error::operation_aborted && s.stream.socket().is_open())) s.mark_gone();
  if (ec == sasio::error::operation_aborted && s.stream.socket().is_open()) co_return;
  sasio::steady_timer forever(s.stream.get_executor());
  forever.expires_at(sasio::steady_timer::time_point::max());
  co_await forever.async_wait(server_use_tuple);
}

inline sasio::awaitable<void> write_simple(server_session& s, unsigned status, std::string_view ct,
                                           std::string_view body) {
  server_response res(s);
  co_await res.async_write_whole(status, ct, body);
}

inline std::string json_detail(std::string_view text) {
  std::string out = "{\"detail\":\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  out += "\"}";
  return out;
}

// The body of one of the server's own refusals, as the config wants it.
inline std::string refusal(const server_config& cfg, unsigned status, std::string_view text) {
  return cfg.refusal_body ? cfg.refusal_body(status, text) : json_detail(text);
}

// After refusing a request whose body we did not read, closing at once could reset the
// connection and destroy our error response in the client's buffer: drain first.
inline sasio::awaitable<void> linger_close(server_session& s) {
  serror_code ec;
  s.stream.socket().shutdown(stcp::socket::shutdown_send, ec);
  s.stream.expires_after(std::min<std::chrono::milliseconds>(s.state.cfg.read_timeout, std::chrono::seconds(2)));
  std::array<char, 4096> sink;
  for (int i = 0; i < 1024; ++i) {
    auto [rec, n] = co_await s.stream.async_read_some(sasio::buffer(sink), server_use_tuple);
    (void)n;
    if (rec) break;
  }
}

inline sasio::awaitable<void> guarded_handler(const route_entry& r, server_request& req,
                                              server_response& res, std::string& failure) {
  // The awaitable is a named local: GCC 12 destroys a temporary awaitable twice when its
  // coroutine throws.
  sasio::awaitable<void> work = r.handler(req, res);
  try {
    co_await std::move(work);
  } catch (const std::exception& e) {
    failure = e.what();
    if (failure.empty()) failure = "exception";
  } catch (...) {
    failure = "unknown exception";
  }
}

inline sasio::awaitable<void> run_session(std::shared_ptr<server_state> st, stcp::socket sock) {
  server_session s(*st, std::move(sock));
  serror_code ignored;
  s.stream.socket().set_option(stcp::no_delay(true), ignored);
  const auto& cfg = st->cfg;
  while (!st->stopping) {
    shttp::request_parser<shttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(cfg.max_header_size, UINT32_MAX)));
    parser.body_limit(cfg.max_body_size);
    s.stream.expires_after(cfg.read_timeout);
    auto [ec, n] = co_await shttp::async_read_header(s.stream, s.buf, parser, server_use_tuple);
    if (!ec && !parser.is_done()) {
      // curl sends "Expect: 100-continue" for larger bodies and waits a second without this.
      auto expect = parser.get()[shttp::field::expect];
      if (sbeast::iequals(expect, "100-continue") &&
          (!parser.content_length() || *parser.content_length() <= cfg.max_body_size)) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        std::tie(ec, n) = co_await sasio::async_write(s.stream, sasio::buffer(cont), server_use_tuple);
      }
      if (!ec) std::tie(ec, n) = co_await shttp::async_read(s.stream, s.buf, parser, server_use_tuple);
    }
    (void)n;
    if (ec) {
      if (ec == shttp::error::end_of_stream || ec == sasio::error::eof ||
          ec == sasio::error::operation_aborted || ec == sasio::error::connection_reset ||
          st->stopping)
        break;
      if (ec == sbeast::error::timeout) {
        if (parser.got_some()) ++st->stats.bad_requests;
        break;  // Beast has closed the socket: nobody to answer
      }
      ++st->stats.requests;
      ++st->stats.bad_requests;
      s.close_after = true;
      s.keep_alive_req = false;
      s.extra_headers.clear();
      s.started = s.finished = false;
      // Named locals, not temporaries, in co_await expressions: GCC 12 mis-destroys some.
      unsigned status = 400;
      std::string body;
      if (ec == shttp::error::body_limit) {
        status = 413;
        body = refusal(cfg, status, "request body too large (over " + std::to_string(cfg.max_body_size) + " bytes)");
      } else if (ec == shttp::error::header_limit) {
        status = 431;
        body = refusal(cfg, status, "request header fields too large");
      } else {
        body = refusal(cfg, status, "malformed HTTP request: " + ec.message());
      }
      co_await write_simple(s, status, "application/json", body);
      co_await linger_close(s);
      break;
    }
    // A request read whole just as the server stopped: a stopped server answers nothing.
    if (st->stopping) break;
    ++st->stats.requests;
    s.keep_alive_req = parser.keep_alive();
    s.started = s.finished = false;
    s.extra_headers.clear();
    server_request req(parser.release());
    server_response res(s);

    const route_entry* match = nullptr;
    bool path_known = false;
    const std::string_view path = req.path();
    for (const auto& r : st->routes) {
      if (r.path != path) continue;
      path_known = true;
      if (r.method == req.method()) {
        match = &r;
        break;
      }
    }
    if (!match) {
      const unsigned status = path_known ? 405 : 404;
      const std::string body = refusal(cfg, status, path_known ? "Method Not Allowed" : "Not Found");
      co_await res.async_write_whole(status, "application/json", body);
    } else {
      using namespace sasio::experimental::awaitable_operators;
      s.handling = true;
      std::string failure;
      // `||` waits for the first *success*: a throwing handler must not look like a failure,
      // or the server would keep watching the client instead of answering 500.
      co_await (guarded_handler(*match, req, res, failure) || watch_client(s));
      s.handling = false;
      s.gone_cb = nullptr;
      if (!s.finished) {
        // Cannot complete this response, or the server stopped while the handler ran (as a
        // killed process would): drop the connection rather than invent an answer.
        if (s.started || s.gone || st->stopping) break;
        if (s.reset) {
          serror_code ig;
          s.stream.socket().set_option(sasio::socket_base::linger(true, 0), ig);
          break;
        }
        s.close_after = true;
        const std::string body = json_detail(failure.empty() ? std::string("handler returned without responding")
                                                             : "handler failed: " + failure);
        co_await write_simple(s, 500, "application/json", body);
      }
    }
    if (s.gone || s.close_after || !s.keep_alive_req) break;
  }
  if (!s.reset) s.stream.socket().shutdown(stcp::socket::shutdown_send, ignored);  // a reset sends no FIN
  s.stream.socket().close(ignored);
}

inline sasio::awaitable<void> accept_loop(std::shared_ptr<server_state> st) {
  for (;;) {
    auto [ec, sock] = co_await st->acceptor->async_accept(server_use_tuple);
    if (st->stopping || !st->acceptor->is_open()) break;
    if (ec) {
      // Out of descriptors and the like: back off briefly instead of spinning.
      sasio::steady_timer t(st->ex);
      t.expires_after(std::chrono::milliseconds(50));
      co_await t.async_wait(server_use_tuple);
      continue;
    }
    ++st->stats.connections_accepted;
    // Handlers' exceptions are caught in guarded_handler; one escaping the session is a bug.
    sasio::co_spawn(st->ex, run_session(st, std::move(sock)), planetserve::detail::rethrow_exception{});
  }
}

}  // namespace detail

std::string_view server_request::header(std::string_view name) const {
  auto it = msg_.find(name);
  if (it == msg_.end()) return {};
  auto v = it->value();
  return {v.data(), v.size()};
}

void server_response::set_header(std::string_view name, std::string_view value) {
  auto bad = [](std::string_view v) {
    return v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
  };
  if (name.empty() || bad(name) || bad(value) || name.find(':') != std::string_view::npos) return;
  auto& h = s_->extra_headers;
  h.append(name);
  h += ": ";
  h.append(value);
  h += "\r\n";
}

boost::asio::awaitable<boost::system::error_code> server_response::async_write_whole(
    unsigned status, std::string_view content_type, std::string_view body) {
  auto& s = *s_;
  if (s.started) co_return error::invalid_argument;
  s.started = true;
  detail::build_response_head(s, status, content_type, false, body.size());
  std::array<boost::asio::const_buffer, 2> bufs{boost::asio::buffer(s.out), boost::asio::buffer(body)};
  auto ec = co_await detail::write_buffers(s, bufs);
  if (!ec) s.finished = true;
  co_return ec;
}

boost::asio::awaitable<boost::system::error_code> server_response::async_begin_stream(
    unsigned status, std::string_view content_type) {
  auto& s = *s_;
  if (s.started) co_return error::invalid_argument;
  s.started = true;
  detail::build_response_head(s, status, content_type, true, 0);
  co_return co_await detail::write_buffers(s, boost::asio::buffer(s.out));
}

boost::asio::awaitable<boost::system::error_code> server_response::async_write_chunk(
    std::string_view data) {
  auto& s = *s_;
  if (!s.started || s.finished) co_return error::invalid_argument;
  if (data.empty()) co_return boost::system::error_code{};
  auto r = std::to_chars(s.size_line.data(), s.size_line.data() + 20, data.size(), 16);
  *r.ptr++ = '\r';
  *r.ptr++ = '\n';
  std::array<boost::asio::const_buffer, 3> bufs{
      boost::asio::buffer(s.size_line.data(), static_cast<std::size_t>(r.ptr - s.size_line.data())),
      boost::asio::buffer(data), boost::asio::buffer("\r\n", 2)};
  co_return co_await detail::write_buffers(s, bufs);
}

boost::asio::awaitable<boost::system::error_code> server_response::async_begin_stream(
    unsigned status, std::string_view content_type, std::string_view first_chunk) {
  co_return co_await async_begin_stream(status, content_type, first_chunk, false);
}

boost::asio::awaitable<boost::system::error_code> server_response::async_write_stream(
    unsigned status, std::string_view content_type, std::string_view only_chunk) {
  co_return co_await async_begin_stream(status, content_type, only_chunk, true);
}

boost::asio::awaitable<boost::system::error_code> server_response::async_begin_stream(
    unsigned status, std::string_view content_type, std::string_view first_chunk, bool end) {
  auto& s = *s_;
  if (s.started) co_return error::invalid_argument;
  s.started = true;
  detail::build_response_head(s, status, content_type, true, 0);
  // After the head: the chunk's size line, the chunk, its CRLF, and the terminator if it ends.
  const std::string_view crlf = end ? std::string_view("\r\n0\r\n\r\n", 7) : std::string_view("\r\n", 2);
  const std::string_view terminator_only = end ? std::string_view("0\r\n\r\n", 5) : std::string_view();
  std::size_t size_len = 0;
  if (!first_chunk.empty()) {
    auto r = std::to_chars(s.size_line.data(), s.size_line.data() + 20, first_chunk.size(), 16);
    *r.ptr++ = '\r';
    *r.ptr++ = '\n';
    size_len = static_cast<std::size_t>(r.ptr - s.size_line.data());
  }
  std::array<boost::asio::const_buffer, 4> bufs{
      boost::asio::buffer(s.out), boost::asio::buffer(s.size_line.data(), size_len),
      boost::asio::buffer(first_chunk),
      boost::asio::buffer(first_chunk.empty() ? terminator_only : crlf)};
  auto ec = co_await detail::write_buffers(s, bufs);
  if (!ec && end) s.finished = true;
  co_return ec;
}

boost::asio::awaitable<boost::system::error_code> server_response::async_end_stream(std::string_view last_chunk) {
  auto& s = *s_;
  if (!s.started || s.finished) co_return error::invalid_argument;
  if (last_chunk.empty()) co_return co_await async_end_stream();
  auto r = std::to_chars(s.size_line.data(), s.size_line.data() + 20, last_chunk.size(), 16);
  *r.ptr++ = '\r';
  *r.ptr++ = '\n';
  std::array<boost::asio::const_buffer, 3> bufs{
      boost::asio::buffer(s.size_line.data(), static_cast<std::size_t>(r.ptr - s.size_line.data())),
      boost::asio::buffer(last_chunk), boost::asio::buffer("\r\n0\r\n\r\n", 7)};
  auto ec = co_await detail::write_buffers(s, bufs);
  if (!ec) s.finished = true;
  co_return ec;
}

boost::asio::awaitable<boost::system::error_code> server_response::async_end_stream() {
  auto& s = *s_;
  if (!s.started || s.finished) co_return error::invalid_argument;
  auto ec = co_await detail::write_buffers(s, boost::asio::buffer("0\r\n\r\n", 5));
  if (!ec) s.finished = true;
  co_return ec;
}

bool server_response::client_gone() const noexcept { return s_->gone; }

void server_response::on_client_gone(std::function<void()> f) {
  if (s_->gone) {
    if (f) f();
    return;
  }
  s_->gone_cb = std::move(f);
}

bool server_response::started() const noexcept { return s_->started; }
bool server_response::finished() const noexcept { return s_->finished; }
void server_response::close_after() noexcept { s_->close_after = true; }
void server_response::reset_connection() noexcept { s_->reset = true; }

server::server(boost::asio::any_io_executor ex, server_config config)
    : state_(std::make_shared<detail::server_state>(std::move(ex), std::move(config))) {}

server::~server() {
  stop();
  state_->close_all(true);
}

void server::route(boost::beast::http::verb method, std::string path, server_handler h) {
  state_->routes.push_back({method, std::move(path), std::move(h)});
}

result<std::uint16_t> server::listen(std::string_view host, std::uint16_t port, diagnostics& diag) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  auto& st = *state_;
  auto where = [&] {
    return std::string(host) + ':' + std::to_string(port);
  };
  boost::system::error_code ec;
  tcp::endpoint ep;
  auto addr = asio::ip::make_address(host, ec);
  if (!ec) {
    ep = tcp::endpoint(addr, port);
  } else {
    tcp::resolver resolver(st.ex);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      diag.message = "cannot listen on " + where() + ": cannot resolve the host (" + ec.message() + ')';
      return error::connection_failed;
    }
    ep = results.begin()->endpoint();
  }
  tcp::acceptor a(st.ex);
  auto fail = [&](const char* step) -> result<std::uint16_t> {
    diag.message = "cannot listen on " + where() + ": " + step + " failed (" + ec.message() + ')';
    return error::connection_failed;
  };
  a.open(ep.protocol(), ec);
  if (ec) return fail("open");
  a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR");
  a.bind(ep, ec);
  if (ec) return fail("bind");
  a.listen(tcp::socket::max_listen_connections, ec);
  if (ec) return fail("listen");
  st.port = a.local_endpoint(ec).port();
  st.acceptor.emplace(std::move(a));
  asio::co_spawn(st.ex, detail::accept_loop(state_), planetserve::detail::rethrow_exception{});
  return st.port;
}

std::uint16_t server::port() const noexcept { return state_->port; }

void server::stop() noexcept {
  auto& st = *state_;
  st.stopping = true;
  if (st.acceptor) {
    boost::system::error_code ec;
    st.acceptor->close(ec);
  }
  st.close_all(false);
}

boost::asio::awaitable<void> server::async_shutdown(std::chrono::milliseconds grace) {
  auto st = state_;
  stop();
  boost::asio::steady_timer timer(st->ex);
  st->drain_timer = &timer;
  for (int round = 0; round < 2 && !st->sessions.empty(); ++round) {
    const auto until = std::chrono::steady_clock::now() + grace;
    while (!st->sessions.empty() && std::chrono::steady_clock::now() < until) {
      timer.expires_at(until);
      co_await timer.async_wait(detail::server_use_tuple);
    }
    // Grace is over: cut the remaining connections; handlers see client_gone().
    st->close_all(true);
  }
  st->drain_timer = nullptr;
}

std::size_t server::open_connections() const noexcept { return state_->sessions.size(); }
const server_stats& server::stats() const noexcept { return state_->stats; }

}  // namespace planetserve::http
