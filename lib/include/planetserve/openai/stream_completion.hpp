// SPDX-License-Identifier: MIT
// planetserve::openai::async_stream_completion: one request, streamed or not, measured (stream_result).
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/http/client.hpp>
#include <planetserve/openai/chunk_decoder.hpp>
#include <planetserve/openai/request_builder.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::openai {

/// One call to make.
struct call {
  /// Endpoint: /v1/completions or /v1/chat/completions.
  api kind = api::completions;
  /// The JSON body (build_completions_body / build_chat_body). Must outlive the call.
  std::string_view body;
  /// API key sent as "Authorization: Bearer <key>"; empty: no header. Never logged.
  std::string_view api_key;
  /// Collect the generated text into stream_result::text.
  bool keep_text = false;
  /// Record every content chunk's arrival time in stream_result::chunk_times.
  bool record_chunk_times = true;
};

/// What happened, as it happened. `arrived` is the socket-read time of the bytes.
struct stream_event {
  /// What kind of event this is.
  enum kind_t {
    first_token,  ///< the first chunk with non-empty content (then also a `chunk` event)
    chunk,        ///< a chunk with non-empty content
    finish,       ///< a chunk carried finish_reason
    usage,        ///< a chunk (or the response) carried usage
    error,        ///< an error object arrived inside the stream (HTTP 200)
  };
  kind_t kind;  ///< the event's kind
  http::clock::time_point arrived;          ///< when its bytes came off the socket
  std::string_view text;                     ///< chunk / first_token: the content
  std::string_view finish_reason;            ///< finish: the reason
  const openai::usage* usage_info = nullptr; ///< usage: the counts
  std::string_view error_message;            ///< error: the server's message
};

/// Receives events during the call; may be empty.
using event_handler = std::function<void(const stream_event&)>;

/// What one completion call measured: status, error, times, tokens, text (the per-request
/// record the pipeline keeps; dispatch::outcome is the part a policy learns).
struct stream_result {
  unsigned status = 0;                     ///< HTTP status (0: no response)
  boost::system::error_code error;         ///< empty on success
  std::string error_text;                  ///< the server's message or what failed, naming the URL
  http::clock::time_point start{};          ///< async_stream_completion began (before any connection wait)
  http::clock::time_point sent{};           ///< the request's last byte went to the socket
  std::optional<http::clock::time_point> first_token; ///< arrival of the first non-empty content
  http::clock::time_point last_byte{};      ///< arrival of the last body bytes
  std::vector<http::clock::time_point> chunk_times; ///< arrival of every content chunk (if recorded)
  std::uint64_t content_chunks = 0;        ///< chunks with non-empty content
  unsigned resent = 0;                     ///< sent again by the client on a fresh connection (a pooled one died first)
  std::uint64_t content_bytes = 0;         ///< bytes of generated text
  std::optional<openai::usage> usage;      ///< from the usage chunk / response
  std::string finish_reason;               ///< last finish_reason seen
  std::string response_id;                 ///< the server's id of the response (first chunk's "id"), "" if none came
  std::string served_by;                   ///< the x-pswm-node header of a `pswm route` router: the node that served; "" if none
  bool done_marker = false;                ///< `data: [DONE]` arrived
  std::string text;                        ///< generated text (with call::keep_text)
  std::string authorization;               ///< scratch for the Authorization header; reused

  /// Whether the call succeeded (no error).
  bool ok() const noexcept { return !error; }
  /// Clears everything but keeps vector and string capacity for the next request.
  void reset() noexcept;
};

/// Sends `c` through `client` and reads the answer: an SSE stream (Content-Type
/// text/event-stream) or a whole JSON response. Fills `out`. Never throws for server or
/// network trouble: those land in out.error / out.error_text (error codes: see
/// map_http_error, plus stream_error for in-stream error objects, stream_incomplete when
/// the stream ends without [DONE], invalid_json / wrong_field_type for bad chunks, and the
/// client's transport errors).
boost::asio::awaitable<void> async_stream_completion(http::client& client, const call& c,
                                                     stream_result& out, const event_handler& on_event);

/// The same, returning a fresh stream_result and without events.
boost::asio::awaitable<stream_result> async_stream_completion(http::client& client, const call& c);

}  // namespace planetserve::openai
