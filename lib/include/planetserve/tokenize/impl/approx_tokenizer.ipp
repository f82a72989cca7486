// SPDX-License-Identifier: MIT
// Compiled body of approx_tokenizer.
#pragma once

#include <planetserve/tokenize/approx_tokenizer.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdexcept>

namespace planetserve::tokenize {
namespace detail {

enum class char_class { space, letter, digit, other };

inline char_class classify(unsigned char c) noexcept {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') return char_class::space;
  if (c >= '0' && c <= '9') return char_class::digit;
  // Bytes >= 0x80 belong to multi-byte UTF-8 letters: keep them inside words.
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return char_class::letter;
  return char_class::other;
}

inline bool line_end(unsigned char c) noexcept { return c == '\n' || c == '\r'; }

/// The end of a punctuation run from `k` on, with the line ends that follow it.
inline std::size_t punct_run(const unsigned char* p, std::size_t n, std::size_t k) noexcept {
  while (k < n && classify(p[k]) == char_class::other) ++k;
  while (k < n && line_end(p[k])) ++k;
  return k;
}

/// Calls fn(begin, end) for every piece of `text`, in order.
template <class Fn>
void for_each_piece(std::string_view text, const approx_tokenizer_config& c, Fn&& fn) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const auto cls = classify(p[i]);
    std::size_t end = i + 1;
    std::size_t width = c.punct_piece_bytes;
    if (cls == char_class::letter ||
        (cls != char_class::digit && !line_end(p[i]) && end < n && classify(p[end]) == char_class::letter)) {
      while (end < n && classify(p[end]) == char_class::letter) ++end;
      width = c.word_piece_bytes;
    } else if (cls == char_class::digit) {
      while (end < n && classify(p[end]) == char_class::digit) ++end;
      width = c.digit_piece_bytes;
    } else if (cls == char_class::space) {
      while (end < n && classify(p[end]) == char_class::space) ++end;
      // The run's last character leads a following word (unless it ends a line); a last
      // space leads following punctuation.
      const bool leads_word = end < n && classify(p[end]) == char_class::letter && !line_end(p[end - 1]);
      const bool leads_punct = end < n && classify(p[end]) == char_class::other && p[end - 1] == ' ';
      if (leads_word || leads_punct) --end;
      width = c.space_piece_bytes;
      if (end == i) {  // one space, then punctuation (one before a letter is a word, above)
        end = punct_run(p, n, i + 1);
        width = c.punct_piece_bytes;
      }
    } else {
      end = punct_run(p, n, end);
    }
    for (std::size_t s = i; s < end; s += width) fn(s, s + width < end ? s + width : end);
    i = end;
  }
}

}  // namespace detail

approx_tokenizer::approx_tokenizer(approx_tokenizer_config config) : config_(config) {
  if (config_.word_piece_bytes == 0 || config_.digit_piece_bytes == 0 || config_.punct_piece_bytes == 0 ||
      config_.space_piece_bytes == 0)
    throw std::invalid_argument("approx_tokenizer: piece widths must be > 0");
  if (config_.vocab_size == 0) throw std::invalid_argument("approx_tokenizer: vocab_size must be > 0");
}

void approx_tokenizer::encode(std::string_view text, std::vector<token_id>& out) const {
  out.reserve(out.size() + text.size() / 4 + 1);
  detail::for_each_piece(text, config_, [&](std::size_t b, std::size_t e) {
    const auto h = XXH3_64bits_withSeed(text.data() + b, e - b, config_.seed);
    out.push_back(static_cast<token_id>(h % config_.vocab_size));
  });
}

std::size_t approx_tokenizer::count(std::string_view text) const {
  std::size_t n = 0;
  detail::for_each_piece(text, config_, [&](std::size_t, std::size_t) { ++n; });
  return n;
}

}  // namespace planetserve::tokenize
