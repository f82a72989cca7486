// SPDX-License-Identifier: MIT
// Compiled body of planetserve::http::parse_url.
#pragma once

#include <planetserve/http/url.hpp>

#include <charconv>

namespace planetserve::http {

std::string url::origin() const {
  std::string out = tls ? "https://" : "http://";
  if (host.find(':') != std::string::npos) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

namespace detail {

/// `text` as it may be shown: user info (user:password@) replaced, so that a password given in
/// a URL never reaches a message or a log.
inline std::string displayable_url(std::string_view text) {
  const std::size_t scheme = text.find("://");
  const std::size_t from = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t auth_end = text.find_first_of("/?#", from);
  const std::size_t at = text.substr(0, auth_end).rfind('@');
  if (at == std::string_view::npos || at < from) return std::string(text);
  std::string out(text.substr(0, from));
  out += "<user-info>";
  out.append(text.substr(at));
  return out;
}

}  // namespace detail

result<url> parse_url(std::string_view text, diagnostics& diag) {
  auto fail = [&](std::string_view why) -> result<url> {
    diag.message = "bad URL '";
    diag.message += detail::displayable_url(text);
    diag.message += "': ";
    diag.message.append(why);
    return error::bad_url;
  };
  url out;
  std::string_view rest = text;
  auto starts_with_ci = [](std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      char c = s[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != prefix[i]) return false;
    }
    return true;
  };
  if (starts_with_ci(rest, "http://")) {
    rest.remove_prefix(7);
  } else if (starts_with_ci(rest, "https://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else {
    return fail("expected it to start with http:// or https://");
  }
  for (char c : rest) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return fail("it contains a space or control character");
  }
  std::size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view path = auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos)
    return fail("user info (user:password@host) is not supported and is not shown here; give the host alone and the key with --api-key");
  if (path.find('#') != std::string_view::npos) return fail("a fragment (#...) has no meaning here");
  std::string_view host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated '[' in the IPv6 host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("expected ':port' after the IPv6 host");
      port_text = after.substr(1);
      if (port_text.empty()) return fail("empty port after ':'");
    }
  } else {
    std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return fail("empty port after ':'");
    }
  }
  if (host.empty()) return fail("no host");
  out.port = out.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || value == 0 ||
        value > 65535)
      return fail("the port must be a number from 1 to 65535");
    out.port = static_cast<std::uint16_t>(value);
  }
  out.host.assign(host);
  if (path.empty()) {
    out.target = "/";
  } else if (path.front() == '?') {
    out.target = "/";
    out.target.append(path);
  } else {
    out.target.assign(path);
  }
  return out;
}

}  // namespace planetserve::http
