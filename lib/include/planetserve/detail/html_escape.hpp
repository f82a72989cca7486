// SPDX-License-Identifier: MIT
// Text made safe to put inside HTML or SVG, in element content and in quoted attributes.
#pragma once

#include <planetserve/detail/sanitize.hpp>

#include <string>
#include <string_view>

namespace planetserve::detail {

/// `text` as sanitized() makes it (valid UTF-8, no controls or escape codes, at most
/// `max_bytes`), with &, <, >, " and ' written as character references: safe in element
/// content and in single- or double-quoted attribute values, never markup.
inline std::string html_escaped(std::string_view text, std::size_t max_bytes = 4096) {
  const std::string clean = sanitized(text, max_bytes);
  std::string out;
  out.reserve(clean.size());
  for (char c : clean) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace planetserve::detail
