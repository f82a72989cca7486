// SPDX-License-Identifier: MIT
// planetserve::error: the library's error codes for expected failures, and a diagnostics string.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <type_traits>

namespace planetserve {

/// Expected failures the library reports through boost::system::error_code.
/// Values are stable: append new ones at the end of their group.
enum class error : int {
  // Parsing (Prometheus, SSE, HTTP framing, JSON lines, OpenAI chunks).
  malformed_line = 1,     ///< a line could not be parsed
  unknown_escape,         ///< a string held an escape the format does not allow
  unterminated_string,    ///< a quoted string did not end
  duplicate_label,        ///< the same label name appeared twice in one sample
  invalid_number,         ///< a value was not a number
  negative_bucket_count,  ///< a histogram bucket count was negative
  invalid_json,           ///< text was not valid JSON
  missing_field,          ///< a required JSON field was absent
  wrong_field_type,       ///< a JSON field had the wrong type
  line_too_long,          ///< a line exceeded the configured limit
  invalid_utf8,           ///< text was not valid UTF-8
  empty_input,            ///< the input held nothing usable

  // Transport and HTTP.
  connection_failed = 100,  ///< could not connect to the server
  connection_closed,        ///< the peer closed the connection early
  timeout,                  ///< an operation exceeded its deadline
  bad_status,               ///< the server answered with a non-2xx status
  body_too_large,           ///< a message body exceeded the size limit
  bad_url,                  ///< a URL could not be understood
  tls_failed,               ///< the TLS handshake or certificate check failed
  cancelled,                ///< the operation was cancelled (shutdown)
  header_too_large,         ///< a message's header block exceeded the size limit
  malformed_http,           ///< a response broke HTTP/1.1 framing (bad status line, chunk size, 101...)

  // OpenAI-compatible API.
  unauthorized = 200,  ///< 401: missing or wrong API key
  not_found,           ///< 404: unknown model or path
  bad_request,         ///< 400: the server rejected the request
  rate_limited,        ///< 429: the server asked us to slow down
  server_error,        ///< 5xx from the server
  stream_error,        ///< an error object arrived inside an SSE stream
  stream_incomplete,   ///< the stream ended without [DONE]
  model_not_served,    ///< a node does not serve the model asked for (or lists none)
  node_not_ready,      ///< a node's /health did not answer 200

  // Configuration and files.
  invalid_argument = 300,  ///< a configuration value is out of range
  file_not_found,          ///< a named file does not exist
  file_unreadable,         ///< a named file could not be read
  file_unwritable,         ///< a named file or folder could not be written
  binary_file,             ///< a text file holds binary data
  plot_failed,             ///< gnuplot could not be started or failed on a chart script
  preflight_failed,        ///< the checks before a run found problems of several kinds (each in the diagnostics)
  not_enough_memory,       ///< the run would need more memory than the machine has (refused before it starts)

  // Bugs.
  internal_error = 400,  ///< an exception escaped a task (a bug in pswm or in a user's policy)
};

/// The category for planetserve::error.
const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Human-readable text from a failed operation: the server's message, the file and line,
/// whatever the error code alone cannot say. Empty when there is nothing to add.
struct diagnostics {
  std::string message;  ///< free text naming the thing that failed and why

  /// Empties the message (before reusing the object).
  void clear() noexcept { message.clear(); }
  /// Whether nothing has been said.
  bool empty() const noexcept { return message.empty(); }
};

template <class T>
using result = boost::system::result<T>;

}  // namespace planetserve

namespace boost::system {
template <>
struct is_error_code_enum<planetserve::error> : std::true_type {};
}  // namespace boost::system
