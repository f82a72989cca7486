// SPDX-License-Identifier: MIT
// Compiled body of planetserve::openai::async_stream_completion.
#pragma once

#include <planetserve/detail/sanitize.hpp>
#include <planetserve/http/sse_parser.hpp>
#include <planetserve/openai/stream_completion.hpp>

#include <array>

namespace planetserve::openai {

void stream_result::reset() noexcept {
  status = 0;
  error.clear();
  error_text.clear();
  start = sent = last_byte = http::clock::time_point{};
  first_token.reset();
  chunk_times.clear();
  content_chunks = content_bytes = 0;
  resent = 0;
  usage.reset();
  finish_reason.clear();
  response_id.clear();
  served_by.clear();
  done_marker = false;
  text.clear();
}

namespace detail {

inline std::string describe(const http::client& client, api kind) {
  std::string what = client.base().origin();
  what.append(endpoint_path(kind));
  return what;
}

inline bool is_event_stream(std::string_view ct) {
  constexpr std::string_view want = "text/event-stream";
  if (ct.size() < want.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    char c = ct[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != want[i]) return false;
  }
  return true;
}

// Applies one decoded chunk to the stream_result and tells the handler.
inline void apply_chunk(const chunk& ch, http::clock::time_point t, const call& c, stream_result& out,
                        const event_handler& on_event) {
  if (ch.error) {
    if (!out.error) {
      out.error = error::stream_error;
      out.error_text = "error inside the stream: ";
      planetserve::detail::append_sanitized(out.error_text, ch.error->message);
      if (!ch.error->type.empty()) {
        out.error_text += " (type ";
        planetserve::detail::append_sanitized(out.error_text, ch.error->type, 64);
        out.error_text += ')';
      }
    }
    if (on_event) on_event(stream_event{stream_event::error, t, {}, {}, nullptr, ch.error->message});
    return;
  }
  if (out.response_id.empty() && !ch.id.empty()) out.response_id = ch.id;
  if (!ch.content.empty()) {
    ++out.content_chunks;
    out.content_bytes += ch.content.size();
    if (c.record_chunk_times) out.chunk_times.push_back(t);
    if (c.keep_text) out.text += ch.content;
    if (!out.first_token) {
      out.first_token = t;
      if (on_event) on_event(stream_event{stream_event::first_token, t, ch.content, {}, nullptr, {}});
    }
    if (on_event) on_event(stream_event{stream_event::chunk, t, ch.content, {}, nullptr, {}});
  }
  if (!ch.finish_reason.empty()) {
    out.finish_reason = ch.finish_reason;
    if (on_event) on_event(stream_event{stream_event::finish, t, {}, ch.finish_reason, nullptr, {}});
  }
  if (ch.usage) {
    out.usage = ch.usage;
    if (on_event) on_event(stream_event{stream_event::usage, t, {}, {}, &*out.usage, {}});
  }
}

}  // namespace detail

boost::asio::awaitable<void> async_stream_completion(http::client& client, const call& c,
                                                     stream_result& out, const event_handler& on_event) {
  out.reset();
  out.start = http::clock::now();
  std::array<http::header_field, 1> headers;
  std::size_t n_headers = 0;
  if (!c.api_key.empty()) {
    out.authorization.assign("Bearer ");
    out.authorization.append(c.api_key);
    headers[n_headers++] = {"Authorization", out.authorization};
  }
  const auto req = http::client_request::post(endpoint_path(c.kind), "application/json", c.body,
                                              std::span<const http::header_field>(headers.data(), n_headers));
  diagnostics diag;
  auto opened = co_await client.async_open(req, diag);
  if (!opened) {
    out.error = opened.error();
    out.error_text = std::move(diag.message);
    out.last_byte = http::clock::now();
    co_return;
  }
  http::response_reader& r = *opened;
  out.status = r.status();
  out.sent = r.sent();
  out.resent = r.resent();
  // Behind `pswm route`: which node served (a router's text: kept short and printable).
  if (auto node = r.header("x-pswm-node"); !node.empty()) out.served_by = planetserve::detail::sanitized(node, 64);
  out.last_byte = r.head_arrived();

  if (out.status < 200 || out.status > 299) {
    std::string body;
    if (auto ec = co_await r.async_read_error_body(body, diag)) {
      out.error = ec;
      out.error_text = std::move(diag.message);
      co_return;
    }
    out.last_byte = http::clock::now();
    out.error = map_http_error(out.status, body, detail::describe(client, c.kind), diag);
    out.error_text = std::move(diag.message);
    co_return;
  }
  if (!detail::is_event_stream(r.content_type())) {
    std::string body;
    for (;;) {
      auto piece = co_await r.async_read_some(diag);
      if (!piece) {
        out.error = piece.error();
        out.error_text = std::move(diag.message);
        co_return;
      }
      if (piece->bytes.empty() && r.done()) break;
      body.append(piece->bytes);
      out.last_byte = piece->arrived;
    }
    // A whole (non-streamed) JSON response: everything arrived at once.
    chunk_decoder dec;
    chunk ch;
    auto ec = dec.decode(body, ch, diag);
    if (ec) {
      out.error = ec;
      out.error_text = "response from " + detail::describe(client, c.kind) + ": " + diag.message;
      co_return;
    }
    const bool had_content = !ch.content.empty();
    detail::apply_chunk(ch, out.last_byte, c, out, on_event);
    if (!had_content && !out.error) out.first_token = out.last_byte;
    out.done_marker = true;  // nothing more to wait for
    co_return;
  }

  // One allocation for a typical stream's chunk times instead of one per doubling.
  if (c.record_chunk_times) out.chunk_times.reserve(32);
  http::sse_parser sse;
  chunk_decoder dec;
  chunk ch;
  diagnostics chunk_diag;
  for (;;) {
    auto piece = co_await r.async_read_some(diag);
    if (!piece) {
      if (!out.error) {
        out.error = piece.error();
        out.error_text = std::move(diag.message);
      }
      co_return;
    }
    if (piece->bytes.empty() && r.done()) break;
    const http::clock::time_point t = piece->arrived;
    out.last_byte = t;
    auto ec = sse.feed(piece->bytes, [&](const http::sse_event& e) {
      if (e.data == "[DONE]") {
        out.done_marker = true;
        return;
      }
      if (out.done_marker) return;  // nothing is expected after [DONE]
      auto dec_ec = dec.decode(e.data, ch, chunk_diag);
      if (dec_ec) {
        if (!out.error) {
          out.error = dec_ec;
          out.error_text = "chunk from " + detail::describe(client, c.kind) + ": " + chunk_diag.message;
        }
        return;
      }
      detail::apply_chunk(ch, t, c, out, on_event);
    });
    if (ec && !out.error) {
      out.error = ec;
      out.error_text = "SSE stream from " + detail::describe(client, c.kind) + ": an event exceeded the size limit";
    }
  }
  if (!out.error && !out.done_marker) {
    out.error = error::stream_incomplete;
    out.error_text = "stream from " + detail::describe(client, c.kind) + " ended without [DONE] after " +
                     std::to_string(out.content_chunks) + " content chunks";
  }
}

boost::asio::awaitable<stream_result> async_stream_completion(http::client& client, const call& c) {
  stream_result out;
  const event_handler none;
  co_await async_stream_completion(client, c, out, none);
  co_return out;
}

}  // namespace planetserve::openai
