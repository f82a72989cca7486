// SPDX-License-Identifier: MIT
// Makes text from a server safe to keep, print and write: valid UTF-8, no control or escape codes, bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace planetserve::detail {

/// Bytes a piece of server text may take in a record, a log line or a JSON file.
inline constexpr std::size_t server_text_cap = 300;

namespace sanitize_impl {

// Length of the well-formed UTF-8 sequence at `p[i]`, or 0 when it is ill-formed
// (overlongs, surrogates, values past U+10FFFF, truncated; Unicode table 3-7).
inline std::size_t utf8_length(const unsigned char* p, std::size_t i, std::size_t n) noexcept {
  const unsigned char c = p[i];
  if (c < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if (p[i + k] < 0x80 || p[i + k] > 0xBF) return 0;
  return len;
}

inline std::uint32_t code_point(const unsigned char* s, std::size_t len) noexcept {
  if (len == 1) return s[0];
  std::uint32_t cp = s[0] & (0x7Fu >> len);
  for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (s[k] & 0x3Fu);
  return cp;
}

// Characters that steer a terminal or reorder what it shows: C0 and C1 controls, DEL, and
// the bidirectional overrides and isolates (text that displays other than it reads).
inline bool is_steering(std::uint32_t cp) noexcept {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F;
}

// Index past the ANSI sequence at p[i] (ESC '[' ... final byte, or ESC ']' ... BEL or ESC '\\'),
// so none of its text shows either.
inline std::size_t skip_escape_sequence(const unsigned char* p, std::size_t i, std::size_t n) noexcept {
  const bool csi = p[i + 1] == '[';
  for (i += 2; i < n; ++i) {
    if (csi && p[i] >= 0x40 && p[i] <= 0x7E) return i + 1;
    if (!csi && p[i] == 0x07) return i + 1;
    if (!csi && p[i] == 0x1B && i + 1 < n && p[i + 1] == '\\') return i + 2;
    if (csi && (p[i] < 0x20 || p[i] > 0x3F)) return i;  // not a parameter byte: no sequence
  }
  return n;
}

}  // namespace sanitize_impl

/// Appends `text` to `out` so that what is appended is valid UTF-8 with nothing that steers
/// a terminal, and at most `max_bytes` long:
/// - every ill-formed byte becomes U+FFFD (a server's bytes are not ours to drop silently);
/// - tab, newline and carriage return become a space (a record stays one line);
/// - ANSI escape sequences, other controls (C0, C1, DEL) and bidi overrides go;
/// - longer text is cut on a character boundary and ends with "…".
inline void append_sanitized(std::string& out, std::string_view text, std::size_t max_bytes = server_text_cap) {
  using namespace sanitize_impl;
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  static constexpr std::string_view ellipsis = "\xE2\x80\xA6";
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  const std::size_t base = out.size();
  // Where to cut should the text not fit: the last character end leaving room for "…".
  const std::size_t soft = max_bytes >= ellipsis.size() ? max_bytes - ellipsis.size() : 0;
  std::size_t cut = base;
  for (std::size_t i = 0; i < n;) {
    if (p[i] == 0x1B && i + 1 < n && (p[i + 1] == '[' || p[i + 1] == ']')) {
      i = skip_escape_sequence(p, i, n);
      continue;
    }
    const std::size_t len = utf8_length(p, i, n);
    std::string_view piece;
    if (len == 0) {
      piece = replacement;
    } else {
      const std::uint32_t cp = code_point(p + i, len);
      if (cp == '\t' || cp == '\n' || cp == '\r') piece = " ";
      else if (!is_steering(cp)) piece = text.substr(i, len);
    }
    i += len == 0 ? 1 : len;
    if (out.size() - base + piece.size() > max_bytes) {
      out.resize(cut);
      if (max_bytes >= ellipsis.size()) out += ellipsis;
      return;
    }
    out += piece;
    if (out.size() - base <= soft) cut = out.size();
  }
}

/// `text` as append_sanitized makes it.
inline std::string sanitized(std::string_view text, std::size_t max_bytes = server_text_cap) {
  std::string out;
  append_sanitized(out, text, max_bytes);
  return out;
}

}  // namespace planetserve::detail
