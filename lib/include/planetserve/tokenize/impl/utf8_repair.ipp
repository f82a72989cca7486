// SPDX-License-Identifier: MIT
// Compiled body of tokenize::repair_utf8.
#pragma once

#include <planetserve/tokenize/utf8_repair.hpp>

#include <cstring>

namespace planetserve::tokenize {
namespace detail {

// The WHATWG decoder's state for a lead byte: how many continuation bytes follow and the
// allowed range of the first one (which rules out overlongs, surrogates and > U+10FFFF).
struct utf8_lead {
  int need = -1;  // -1: not a lead byte
  unsigned char lower = 0x80, upper = 0xBF;
};

inline utf8_lead classify_lead(unsigned char b) noexcept {
  if (b >= 0xC2 && b <= 0xDF) return {1, 0x80, 0xBF};
  if (b == 0xE0) return {2, 0xA0, 0xBF};
  if (b == 0xED) return {2, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {2, 0x80, 0xBF};
  if (b == 0xF0) return {3, 0x90, 0xBF};
  if (b == 0xF4) return {3, 0x80, 0x8F};
  if (b >= 0xF1 && b <= 0xF3) return {3, 0x80, 0xBF};
  return {};
}

/// Length of the valid sequence starting at p[i] (1..4), or 0 with `bad` = bytes to replace
/// by one U+FFFD (at least 1).
inline std::size_t utf8_sequence(const unsigned char* p, std::size_t n, std::size_t i, std::size_t& bad) noexcept {
  const unsigned char b = p[i];
  if (b < 0x80) return 1;
  const utf8_lead lead = classify_lead(b);
  if (lead.need < 0) {
    bad = 1;
    return 0;
  }
  std::size_t j = i + 1;
  for (int k = 0; k < lead.need; ++k, ++j) {
    const unsigned char lo = k == 0 ? lead.lower : 0x80;
    const unsigned char hi = k == 0 ? lead.upper : 0xBF;
    if (j >= n || p[j] < lo || p[j] > hi) {
      bad = j - i;  // the lead and the continuation bytes that fit; the breaking byte is read again
      return 0;
    }
  }
  return j - i;
}

}  // namespace detail

bool is_valid_utf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // Eight ASCII bytes at a time: most prompts are mostly ASCII.
    if (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    std::size_t bad = 0;
    const std::size_t len = detail::utf8_sequence(p, n, i, bad);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void repair_utf8(std::string_view text, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  out.reserve(out.size() + n + 8);
  std::size_t i = 0;
  while (i < n) {
    std::size_t bad = 0;
    const std::size_t len = detail::utf8_sequence(p, n, i, bad);
    if (len > 0) {
      out.append(text.data() + i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += bad;
    }
  }
}

}  // namespace planetserve::tokenize
