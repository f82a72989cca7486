// SPDX-License-Identifier: MIT
// Compiled body of planetserve::openai::detail::scan_chunk: the decoder's hand-written fast path.
#pragma once

#include <planetserve/openai/detail/chunk_paths.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace planetserve::openai::detail {
namespace {

// A string in the source text, between its quotes, and whether it holds escapes.
struct text_span {
  const char* begin = nullptr;
  std::size_t size = 0;
  bool escaped = false;
  bool present = false;  // the field was there with a string (not null, not absent)
};

inline unsigned hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<unsigned>(c - 'A' + 10);
  return 16;
}

inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Appends a span's text, its escapes decoded. The span was validated when it was scanned.
inline void append_span(std::string& out, const text_span& s) {
  if (!s.escaped) {
    out.append(s.begin, s.size);
    return;
  }
  const char* p = s.begin;
  const char* const end = s.begin + s.size;
  while (p < end) {
    const char* run = p;
    while (p < end && *p != '\\') ++p;
    out.append(run, static_cast<std::size_t>(p - run));
    if (p == end) break;
    const char e = p[1];
    p += 2;
    switch (e) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        std::uint32_t cp = 0;
        for (int i = 0; i < 4; ++i) cp = cp * 16 + hex_value(p[i]);
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // validated: a low surrogate follows
          std::uint32_t lo = 0;
          for (int i = 2; i < 6; ++i) lo = lo * 16 + hex_value(p[i]);
          p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        append_utf8(out, cp);
        break;
      }
      default: out += e; break;  // " \ /
    }
  }
}

class scanner {
 public:
  scanner(std::string_view text, chunk& out) noexcept
      : p_(text.data()), end_(text.data() + text.size()), out_(out) {}

  /// After a successful run: the only string the chunk's text came from, if exactly one
  /// string (present, not null) supplied all of it.
  const text_span* sole_text() const noexcept { return texts_ == 1 ? &sole_ : nullptr; }

  /// Reads a string starting at `quote` that must close exactly at `close`.
  bool string_between(const char* quote, const char* close, text_span& s) {
    p_ = quote;
    return string(s) && p_ == close + 1;
  }

  bool run() {
    ws();
    if (!eat('{')) return false;
    unsigned seen = 0;
    if (!members([&](std::string_view key) {
          if (key == "choices") return once(seen, 1) && choices();
          if (key == "usage") return once(seen, 2) && usage();
          if (key == "error") return once(seen, 4) && null();  // an error object: the full parse
          if (key == "object") return once(seen, 8) && object_field();
          if (key == "id") return once(seen, 16) && id_field();
          return skip_value(1);
        }))
      return false;
    ws();
    return p_ == end_;
  }

 private:
  // Nesting deeper than this goes to the full parse (Boost.JSON's default limit is 32).
  static constexpr int max_depth = 30;

  static bool once(unsigned& seen, unsigned bit) noexcept {
    if (seen & bit) return false;  // a repeated field: the full parse decides
    seen |= bit;
    return true;
  }

  void ws() noexcept {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool eat(char c) noexcept {
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }
  bool at_null() const noexcept { return p_ < end_ && *p_ == 'n'; }
  bool null() noexcept { return literal("null"); }

  // The members of an object whose '{' was read: `on_member(key)` reads each value.
  template <class F>
  bool members(F&& on_member) {
    ws();
    if (eat('}')) return true;
    for (;;) {
      ws();
      text_span key;
      if (!string(key) || key.escaped) return false;  // an escaped key could name a known field
      ws();
      if (!eat(':')) return false;
      ws();
      if (!on_member(std::string_view(key.begin, key.size))) return false;
      ws();
      if (eat(',')) continue;
      return eat('}');
    }
  }

  // A mask with the high bit set in each of the eight bytes of `w` (loaded little-endian)
  // that ends a plain run in a string: a quote, a backslash, a control character or a
  // non-ASCII byte. Bits above the lowest such byte may be set spuriously by borrows; the
  // lowest one is exact.
  static std::uint64_t special_bytes(std::uint64_t w) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    const std::uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
    const std::uint64_t zero_in_quote = (quote - ones) & ~quote;
    const std::uint64_t zero_in_slash = (slash - ones) & ~slash;
    const std::uint64_t below_space = (w - ones * 0x20) & ~w;
    return (zero_in_quote | zero_in_slash | below_space | w) & highs;
  }
  static bool plain(unsigned char c) noexcept { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

  // A string: p_ at its opening quote. Checks escapes and UTF-8 as Boost.JSON does.
  bool string(text_span& s) {
    if (p_ >= end_ || *p_ != '"') return false;
    const char* p = p_ + 1;
    const char* const end = end_;
    s.begin = p;
    s.escaped = false;
    for (;;) {
      if constexpr (std::endian::native == std::endian::little) {  // eight bytes at a time
        while (end - p >= 8) {
          std::uint64_t w;
          std::memcpy(&w, p, 8);
          if (const std::uint64_t m = special_bytes(w)) {
            p += std::countr_zero(m) / 8;
            break;
          }
          p += 8;
        }
      }
      while (p < end && plain(static_cast<unsigned char>(*p))) ++p;
      if (p >= end) return false;
      const auto c = static_cast<unsigned char>(*p);
      if (c == '"') {
        s.size = static_cast<std::size_t>(p - s.begin);
        s.present = true;
        p_ = p + 1;
        return true;
      }
      if (c < 0x20) return false;
      p_ = p;
      if (c == '\\') {
        if (!escape()) return false;
        s.escaped = true;
      } else if (!utf8()) {
        return false;
      }
      p = p_;
    }
  }
  bool escape() {
    if (end_ - p_ < 2) return false;
    const char e = p_[1];
    p_ += 2;
    switch (e) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': return true;
      case 'u': break;
      default: return false;
    }
    std::uint32_t cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a lone low surrogate
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      std::uint32_t lo = 0;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
      p_ += 2;
      if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
    }
    return true;
  }
  bool hex4(std::uint32_t& cp) {
    if (end_ - p_ < 4) return false;
    for (int i = 0; i < 4; ++i) {
      const unsigned v = hex_value(p_[i]);
      if (v > 15) return false;
      cp = cp * 16 + v;
    }
    p_ += 4;
    return true;
  }
  // One UTF-8 sequence of two to four bytes (RFC 3629: no overlong forms, no surrogates,
  // nothing above U+10FFFF).
  bool utf8() {
    const auto b0 = static_cast<unsigned char>(p_[0]);
    int n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) n = 1;
    else if (b0 == 0xE0) n = 2, lo = 0xA0;
    else if (b0 >= 0xE1 && b0 <= 0xEC) n = 2;
    else if (b0 == 0xED) n = 2, hi = 0x9F;
    else if (b0 >= 0xEE && b0 <= 0xEF) n = 2;
    else if (b0 == 0xF0) n = 3, lo = 0x90;
    else if (b0 >= 0xF1 && b0 <= 0xF3) n = 3;
    else if (b0 == 0xF4) n = 3, hi = 0x8F;
    else return false;
    if (end_ - p_ <= n) return false;
    const auto b1 = static_cast<unsigned char>(p_[1]);
    if (b1 < lo || b1 > hi) return false;
    for (int i = 2; i <= n; ++i) {
      const auto b = static_cast<unsigned char>(p_[i]);
      if (b < 0x80 || b > 0xBF) return false;
    }
    p_ += n + 1;
    return true;
  }

  // A number, checked against JSON's grammar and skipped. Long or extreme forms are left to
  // the full parse (its limits decide them).
  bool skip_number() {
    const char* start = p_;
    eat('-');
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else if (p_ < end_ && *p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return false;
    }
    if (eat('.')) {
      if (!(p_ < end_ && *p_ >= '0' && *p_ <= '9')) return false;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      const char* digits = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      if (p_ == digits || p_ - digits > 3) return false;
    }
    return p_ - start <= 40;
  }

  // A token count: null (absent) or a plain unsigned integer of at most 19 digits, which
  // always fits. A sign, a fraction or an exponent goes to the full parse.
  bool count(std::optional<std::uint64_t>& out) {
    if (at_null()) return null();
    if (!(p_ < end_ && *p_ >= '0' && *p_ <= '9')) return false;
    const char* start = p_;
    std::uint64_t v = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') v = v * 10 + static_cast<unsigned>(*p_++ - '0');
    const auto digits = p_ - start;
    if (digits > 19 || (digits > 1 && *start == '0')) return false;
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    out = v;
    return true;
  }

  bool skip_value(int depth) {
    if (p_ >= end_) return false;
    switch (*p_) {
      case '"': {
        text_span s;
        return string(s);
      }
      case '{':
        if (depth >= max_depth) return false;
        ++p_;
        return members([&](std::string_view) { return skip_value(depth + 1); });
      case '[':
        if (depth >= max_depth) return false;
        ++p_;
        return elements([&] { return skip_value(depth + 1); });
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return skip_number();
    }
  }

  // The elements of an array whose '[' was read.
  template <class F>
  bool elements(F&& on_element) {
    ws();
    if (eat(']')) return true;
    for (;;) {
      ws();
      if (!on_element()) return false;
      ws();
      if (eat(',')) continue;
      return eat(']');
    }
  }

  // A string field that is read: a string or null; another type goes to the full parse.
  bool text_field(text_span& s) {
    if (at_null()) return null();
    return string(s);
  }

  // Top-level "id": kept when a string; any other value is ignored, as the full parse does.
  bool id_field() {
    if (p_ < end_ && *p_ == '"') {
      text_span s;
      if (!string(s)) return false;
      out_.id.clear();
      append_span(out_.id, s);
      return true;
    }
    return skip_value(1);
  }

  // Top-level "object": only the string "error" matters (the flat error shape).
  bool object_field() {
    if (p_ < end_ && *p_ == '"') {
      text_span s;
      if (!string(s)) return false;
      return !s.escaped && std::string_view(s.begin, s.size) != "error";
    }
    return skip_value(1);
  }

  bool choices() {
    if (at_null()) return null();
    if (!eat('[')) return false;
    return elements([&] { return eat('{') && choice(); });
  }

  // One choice: its texts are appended in the full parse's order (text, then delta's and
  // message's reasoning_content and content), whatever order its fields came in.
  bool choice() {
    text_span text, finish, delta[2], message[2];  // [0] reasoning_content, [1] content
    unsigned seen = 0;
    if (!members([&](std::string_view key) {
          if (key == "text") return once(seen, 1) && text_field(text);
          if (key == "delta") return once(seen, 2) && holder(delta);
          if (key == "message") return once(seen, 4) && holder(message);
          if (key == "finish_reason") return once(seen, 8) && text_field(finish);
          return skip_value(3);
        }))
      return false;
    for (const text_span* s : {&text, &delta[0], &delta[1], &message[0], &message[1]}) {
      if (!s->present) continue;
      append_span(out_.content, *s);
      if (++texts_ == 1) sole_ = *s;
    }
    if (out_.finish_reason.empty() && finish.present) append_span(out_.finish_reason, finish);
    return true;
  }

  bool holder(text_span (&fields)[2]) {
    if (at_null()) return null();
    if (!eat('{')) return false;
    unsigned seen = 0;
    return members([&](std::string_view key) {
      if (key == "reasoning_content") return once(seen, 1) && text_field(fields[0]);
      if (key == "content") return once(seen, 2) && text_field(fields[1]);
      return skip_value(4);
    });
  }

  bool usage() {
    if (at_null()) return null();
    if (!eat('{')) return false;
    std::optional<std::uint64_t> prompt, completion, cached;
    unsigned seen = 0;
    if (!members([&](std::string_view key) {
          if (key == "prompt_tokens") return once(seen, 1) && count(prompt);
          if (key == "completion_tokens") return once(seen, 2) && count(completion);
          if (key == "prompt_tokens_details") return once(seen, 4) && details(cached);
          return skip_value(2);
        }))
      return false;
    out_.usage = openai::usage{prompt.value_or(0), completion.value_or(0), cached};
    return true;
  }

  // prompt_tokens_details: an object's cached_tokens; a value of another type is ignored.
  bool details(std::optional<std::uint64_t>& cached) {
    if (!eat('{')) return skip_value(2);
    unsigned seen = 0;
    return members([&](std::string_view key) {
      if (key == "cached_tokens") return once(seen, 1) && count(cached);
      return skip_value(3);
    });
  }

  const char* p_;
  const char* end_;
  chunk& out_;
  std::size_t texts_ = 0;  // strings that supplied content
  text_span sole_;         // the first of them
};

}  // namespace

bool scan_chunk(std::string_view text, chunk& out) {
  out.clear();
  return scanner(text, out).run();
}

bool scan_chunk(std::string_view text, chunk& out, chunk_frame& frame) {
  out.clear();
  const std::size_t framing = frame.before.size() + frame.after.size();
  if (frame.valid && text.size() >= framing && text.starts_with(frame.before) && text.ends_with(frame.after)) {
    // Same bytes before and after: the same parse, up to the string between them.
    text_span s;
    scanner sc(text, out);
    const char* quote = text.data() + frame.before.size() - 1;
    const char* close = text.data() + text.size() - frame.after.size();
    if (sc.string_between(quote, close, s)) {
      append_span(out.content, s);
      out.finish_reason = frame.finish_reason;
      out.usage = frame.usage;
      out.id = frame.id;
      return true;
    }
  }
  scanner sc(text, out);
  if (!sc.run()) {
    frame.valid = false;
    return false;
  }
  const text_span* sole = sc.sole_text();
  frame.valid = sole != nullptr;
  if (frame.valid) {
    const auto open = static_cast<std::size_t>(sole->begin - text.data());  // just past the quote
    const std::size_t close = open + sole->size;                            // the closing quote
    frame.before.assign(text.data(), open);
    frame.after.assign(text.data() + close, text.size() - close);
    frame.finish_reason = out.finish_reason;
    frame.usage = out.usage;
    frame.id = out.id;
  }
  return true;
}

}  // namespace planetserve::openai::detail
