// SPDX-License-Identifier: MIT
// Compiled body of approx_tokenizer.
#pragma once

#include <planetserve/tokenize/approx_tokenizer.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdexcept>

namespace planetserve::tokenize {
namespace detail {

enum class char_class { space, word, other };

inline char_class classify(unsigned char c) noexcept {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
    return char_class::space;
  // Bytes >= 0x80 belong to multi-byte UTF-8 letters: keep them inside words.
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80)
    return char_class::word;
  return char_class::other;
}

/// Calls fn(begin, end) for every piece of `text`, in order.
template <class Fn>
void for_each_piece(std::string_view text, std::size_t max_piece, Fn&& fn) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // A word is [optional single space][word bytes...]; other runs are split by class.
    std::size_t start = i;
    std::size_t end = i + 1;
    auto cls = classify(p[i]);
    if (p[i] == ' ' && end < n && classify(p[end]) == char_class::word) {
      cls = char_class::word;
      ++end;
    }
    if (cls == char_class::word) {
      while (end < n && classify(p[end]) == char_class::word) ++end;
    } else if (cls == char_class::space) {
      // A run of whitespace, leaving a final plain space to lead the next word.
      while (end < n && classify(p[end]) == char_class::space &&
             !(p[end] == ' ' && end + 1 < n && classify(p[end + 1]) == char_class::word))
        ++end;
    } else {  // a run of punctuation
      while (end < n && classify(p[end]) == char_class::other) ++end;
    }
    for (std::size_t s = start; s < end; s += max_piece) {
      std::size_t e = s + max_piece < end ? s + max_piece : end;
      fn(s, e);
    }
    i = end;
  }
}

}  // namespace detail

approx_tokenizer::approx_tokenizer(approx_tokenizer_config config) : config_(config) {
  if (config_.max_piece_bytes == 0) throw std::invalid_argument("approx_tokenizer: max_piece_bytes must be > 0");
  if (config_.vocab_size == 0) throw std::invalid_argument("approx_tokenizer: vocab_size must be > 0");
}

void approx_tokenizer::encode(std::string_view text, std::vector<token_id>& out) const {
  out.reserve(out.size() + text.size() / 3 + 1);
  detail::for_each_piece(text, config_.max_piece_bytes, [&](std::size_t b, std::size_t e) {
    const auto h = XXH3_64bits_withSeed(text.data() + b, e - b, config_.seed);
    out.push_back(static_cast<token_id>(h % config_.vocab_size));
  });
}

std::size_t approx_tokenizer::count(std::string_view text) const {
  std::size_t n = 0;
  detail::for_each_piece(text, config_.max_piece_bytes, [&](std::size_t, std::size_t) { ++n; });
  return n;
}

}  // namespace planetserve::tokenize
