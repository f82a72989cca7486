// SPDX-License-Identifier: MIT
// planetserve::openai::chunk_decoder: one streamed chunk (or a whole non-streamed response) to facts.
#pragma once

#include <planetserve/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace planetserve::openai {

/// Token counts from a `usage` object.
struct usage {
  std::uint64_t prompt_tokens = 0;      ///< usage.prompt_tokens
  std::uint64_t completion_tokens = 0;  ///< usage.completion_tokens
  /// usage.prompt_tokens_details.cached_tokens, when the server reports it.
  std::optional<std::uint64_t> cached_tokens;
};

/// An error object from the server (in a body or inside a stream).
struct server_error {
  std::string message;  ///< error.message (or the bare string of {"error": "..."})
  std::string type;     ///< error.type, if any
  std::string code;     ///< error.code as text (vLLM sends a number), if any
};

/// What one chunk (or one whole response) said. Strings keep their capacity between uses.
struct chunk {
  std::string id;             ///< the response id ("chatcmpl-...", "cmpl-..."), "" if absent or not a string
  std::string content;        ///< generated text in it: delta.content, delta.reasoning_content, message.content or text, over all choices
  std::string finish_reason;  ///< the first non-null finish_reason, "" if none
  std::optional<openai::usage> usage;  ///< present when the chunk carried a non-null `usage`
  std::optional<server_error> error;   ///< present when it was an error object

  /// Empties every field, keeping string capacity for the next chunk.
  void clear() noexcept {
    id.clear();
    content.clear();
    finish_reason.clear();
    usage.reset();
    error.reset();
  }
};

namespace detail {

/// What the fast path remembers of the last chunk it read whose whole text came from one
/// string: the bytes before that string's content and from its closing quote on, and the
/// chunk's other facts. The chunks of one stream differ only in that string (vLLM repeats
/// id, created and model), so a chunk made of the same two frames around a valid string
/// has the same parse with another text: it is read by comparing the frames and checking
/// the string alone.
struct chunk_frame {
  bool valid = false;
  std::string before;  ///< up to and including the text's opening quote
  std::string after;   ///< from the text's closing quote to the end
  std::string id;
  std::string finish_reason;
  std::optional<openai::usage> usage;
};

}  // namespace detail

/// Decodes chat and completions chunks and responses. Well-formed chunks take one
/// hand-written pass over the text, or less when they repeat the last chunk's frame;
/// anything else (errors, odd types, invalid JSON) goes to Boost.JSON's DOM, which gives the
/// answer and the error messages, so all agree. Unknown fields are ignored; a known field of
/// the wrong type is an error. Reuse one decoder per stream: it keeps its parse buffer and
/// the last chunk's frame.
class chunk_decoder {
 public:
  /// Decodes `json` into `out` (cleared first). Errors: invalid_json, wrong_field_type,
  /// with `diag` quoting the start of the offending text.
  boost::system::error_code decode(std::string_view json, chunk& out, diagnostics& diag);

 private:
  alignas(16) unsigned char buffer_[2048];  // typical chunks parse without touching the heap
  detail::chunk_frame frame_;              // the last chunk's frame (see chunk_frame)
};

/// Turns a non-2xx status and its body into an error code and a message. Understands
/// {"error":{"message","type","param","code"}}, the older flat {"object":"error","message"},
/// 401's {"error":"Unauthorized"}, and FastAPI's {"detail": ...}; other bodies are quoted
/// (shortened). `what` names the request (e.g. the URL) in the message.
/// 400/422 -> bad_request, 401/403 -> unauthorized, 404 -> not_found, 429 -> rate_limited,
/// 5xx -> server_error, anything else -> bad_status.
boost::system::error_code map_http_error(unsigned status, std::string_view body,
                                         std::string_view what, diagnostics& diag);

/// Extracts a server_error from a JSON body, if it holds one of the shapes above.
std::optional<server_error> parse_error_body(std::string_view body);

}  // namespace planetserve::openai
