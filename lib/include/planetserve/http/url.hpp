// SPDX-License-Identifier: MIT
// planetserve::http::url: the parts of an http:// or https:// URL the client needs.
#pragma once

#include <planetserve/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace planetserve::http {

/// An absolute http or https URL, split.
struct url {
  bool tls = false;       ///< https
  std::string host;       ///< host name or address, without IPv6 brackets
  std::uint16_t port = 0; ///< explicit port, or 80/443 from the scheme
  std::string target;     ///< path and query, at least "/"

  /// "http://host:port" (brackets restored for IPv6), for messages and pool keys.
  std::string origin() const;
};

/// Splits `text`. Errors are error::bad_url with `diag` naming the URL and what was wrong.
/// User info ("user:pass@") and fragments are rejected: neither belongs in a server URL.
result<url> parse_url(std::string_view text, diagnostics& diag);

}  // namespace planetserve::http
