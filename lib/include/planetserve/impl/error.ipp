// SPDX-License-Identifier: MIT
// Compiled body of planetserve::error_category.
#pragma once

#include <planetserve/error.hpp>

namespace planetserve {
namespace detail {

class error_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "planetserve"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::malformed_line: return "malformed line";
      case error::unknown_escape: return "unknown escape sequence";
      case error::unterminated_string: return "unterminated string";
      case error::duplicate_label: return "duplicate label name";
      case error::invalid_number: return "value is not a number";
      case error::negative_bucket_count: return "negative histogram bucket count";
      case error::invalid_json: return "invalid JSON";
      case error::missing_field: return "missing field";
      case error::wrong_field_type: return "field has the wrong type";
      case error::line_too_long: return "line too long";
      case error::invalid_utf8: return "invalid UTF-8";
      case error::empty_input: return "empty input";
      case error::connection_failed: return "connection failed";
      case error::connection_closed: return "connection closed by peer";
      case error::timeout: return "timed out";
      case error::bad_status: return "unexpected HTTP status";
      case error::body_too_large: return "body too large";
      case error::bad_url: return "bad URL";
      case error::tls_failed: return "TLS handshake or certificate check failed";
      case error::cancelled: return "cancelled";
      case error::header_too_large: return "header block too large";
      case error::malformed_http: return "malformed HTTP response";
      case error::unauthorized: return "unauthorized (check the API key)";
      case error::not_found: return "not found";
      case error::bad_request: return "bad request";
      case error::rate_limited: return "rate limited";
      case error::server_error: return "server error";
      case error::stream_error: return "error inside the response stream";
      case error::stream_incomplete: return "stream ended before [DONE]";
      case error::model_not_served: return "model not served by the node";
      case error::node_not_ready: return "node not ready (/health did not answer 200)";
      case error::invalid_argument: return "invalid argument";
      case error::file_not_found: return "file not found";
      case error::file_unreadable: return "file cannot be read";
      case error::file_unwritable: return "file or folder cannot be written";
      case error::binary_file: return "file holds binary data, not text";
      case error::plot_failed: return "gnuplot failed";
      case error::preflight_failed: return "checks before the run failed";
      case error::not_enough_memory: return "the run would need more memory than is available";
      case error::internal_error: return "internal error";
    }
    return "unknown planetserve error";
  }
};

}  // namespace detail

const boost::system::error_category& error_category() noexcept {
  static const detail::error_category_impl instance;
  return instance;
}

}  // namespace planetserve
