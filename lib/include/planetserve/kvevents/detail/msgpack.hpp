// SPDX-License-Identifier: MIT
// The subset of MessagePack the KV events use: a byte writer and a bounds-checked reader (sans-io).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace planetserve::kvevents::detail {

// Writes the smallest MessagePack form of each value, as msgspec does.
class msgpack_writer {
 public:
  explicit msgpack_writer(std::vector<std::uint8_t>& out) : out_(out) {}

  void nil() { out_.push_back(0xc0); }
  void uint(std::uint64_t v) {
    if (v < 0x80) { out_.push_back(static_cast<std::uint8_t>(v)); return; }
    if (v <= 0xff) { out_.push_back(0xcc); be(v, 1); return; }
    if (v <= 0xffff) { out_.push_back(0xcd); be(v, 2); return; }
    if (v <= 0xffffffffULL) { out_.push_back(0xce); be(v, 4); return; }
    out_.push_back(0xcf);
    be(v, 8);
  }
  void sint(std::int64_t v) {
    if (v >= 0) { uint(static_cast<std::uint64_t>(v)); return; }
    if (v >= -32) { out_.push_back(static_cast<std::uint8_t>(v)); return; }
    const auto u = static_cast<std::uint64_t>(v);
    if (v >= INT8_MIN) { out_.push_back(0xd0); be(u, 1); return; }
    if (v >= INT16_MIN) { out_.push_back(0xd1); be(u, 2); return; }
    if (v >= INT32_MIN) { out_.push_back(0xd2); be(u, 4); return; }
    out_.push_back(0xd3);
    be(u, 8);
  }
  void float64(double v) {
    out_.push_back(0xcb);
    be(std::bit_cast<std::uint64_t>(v), 8);
  }
  void str(std::string_view s) {
    const std::size_t n = s.size();
    if (n < 32) out_.push_back(static_cast<std::uint8_t>(0xa0 | n));
    else if (n <= 0xff) { out_.push_back(0xd9); be(n, 1); }
    else if (n <= 0xffff) { out_.push_back(0xda); be(n, 2); }
    else { out_.push_back(0xdb); be(n, 4); }
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void array(std::size_t n) { header(n, 0x90, 0xdc, 0xdd); }
  void map(std::size_t n) { header(n, 0x80, 0xde, 0xdf); }

 private:
  void header(std::size_t n, std::uint8_t fix, std::uint8_t b16, std::uint8_t b32) {
    if (n < 16) out_.push_back(static_cast<std::uint8_t>(fix | n));
    else if (n <= 0xffff) { out_.push_back(b16); be(n, 2); }
    else { out_.push_back(b32); be(n, 4); }
  }
  void be(std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t>& out_;
};

// What the next value is.
enum class msgpack_kind : std::uint8_t { nil, boolean, integer, floating, string, binary, array, map, extension, invalid };

// Reads values front to back; every read checks the bounds and returns nullopt (or false)
// on a value of another kind or a truncated one, leaving the position unspecified.
class msgpack_reader {
 public:
  explicit msgpack_reader(std::span<const std::uint8_t> in) : in_(in) {}

  bool at_end() const noexcept { return pos_ == in_.size(); }
  std::size_t remaining() const noexcept { return in_.size() - pos_; }

  msgpack_kind peek() const noexcept {
    if (pos_ >= in_.size()) return msgpack_kind::invalid;
    const std::uint8_t b = in_[pos_];
    if (b <= 0x7f || b >= 0xe0) return msgpack_kind::integer;
    if (b <= 0x8f) return msgpack_kind::map;
    if (b <= 0x9f) return msgpack_kind::array;
    if (b <= 0xbf) return msgpack_kind::string;
    switch (b) {
      case 0xc0: return msgpack_kind::nil;
      case 0xc2: case 0xc3: return msgpack_kind::boolean;
      case 0xc4: case 0xc5: case 0xc6: return msgpack_kind::binary;
      case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        return msgpack_kind::extension;
      case 0xca: case 0xcb: return msgpack_kind::floating;
      case 0xcc: case 0xcd: case 0xce: case 0xcf: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
        return msgpack_kind::integer;
      case 0xd9: case 0xda: case 0xdb: return msgpack_kind::string;
      case 0xdc: case 0xdd: return msgpack_kind::array;
      case 0xde: case 0xdf: return msgpack_kind::map;
      default: return msgpack_kind::invalid;  // 0xc1 is never used
    }
  }

  bool nil() {
    if (peek() != msgpack_kind::nil) return false;
    ++pos_;
    return true;
  }

  // An integer as its 64-bit two's-complement bits, and whether it was negative.
  struct integer_value {
    std::uint64_t bits = 0;
    bool negative = false;
  };
  std::optional<integer_value> integer() {
    if (pos_ >= in_.size()) return std::nullopt;
    const std::uint8_t b = in_[pos_];
    if (b <= 0x7f) { ++pos_; return integer_value{b, false}; }
    if (b >= 0xe0) { ++pos_; return integer_value{static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int8_t>(b))), true}; }
    int n = 0;
    bool is_signed = false;
    switch (b) {
      case 0xcc: n = 1; break;
      case 0xcd: n = 2; break;
      case 0xce: n = 4; break;
      case 0xcf: n = 8; break;
      case 0xd0: n = 1; is_signed = true; break;
      case 0xd1: n = 2; is_signed = true; break;
      case 0xd2: n = 4; is_signed = true; break;
      case 0xd3: n = 8; is_signed = true; break;
      default: return std::nullopt;
    }
    ++pos_;
    auto v = be(n);
    if (!v) return std::nullopt;
    std::uint64_t bits = *v;
    bool negative = false;
    if (is_signed) {
      const int shift = 64 - 8 * n;  // sign-extend from n bytes
      const auto s = static_cast<std::int64_t>(bits << shift) >> shift;
      bits = static_cast<std::uint64_t>(s);
      negative = s < 0;
    }
    return integer_value{bits, negative};
  }

  // A float64 or float32, or an integer read as a number.
  std::optional<double> number() {
    if (pos_ >= in_.size()) return std::nullopt;
    const std::uint8_t b = in_[pos_];
    if (b == 0xcb || b == 0xca) {
      ++pos_;
      auto v = be(b == 0xcb ? 8 : 4);
      if (!v) return std::nullopt;
      if (b == 0xcb) return std::bit_cast<double>(*v);
      return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(*v)));
    }
    auto i = integer();
    if (!i) return std::nullopt;
    return i->negative ? static_cast<double>(static_cast<std::int64_t>(i->bits)) : static_cast<double>(i->bits);
  }

  // A string's or a binary's bytes (both kinds: hashes come as either).
  std::optional<std::span<const std::uint8_t>> bytes() {
    if (pos_ >= in_.size()) return std::nullopt;
    const std::uint8_t b = in_[pos_];
    std::size_t n = 0;
    if (b >= 0xa0 && b <= 0xbf) {
      n = b & 0x1fu;
      ++pos_;
    } else {
      int w = 0;
      switch (b) {
        case 0xd9: case 0xc4: w = 1; break;
        case 0xda: case 0xc5: w = 2; break;
        case 0xdb: case 0xc6: w = 4; break;
        default: return std::nullopt;
      }
      ++pos_;
      auto v = be(w);
      if (!v) return std::nullopt;
      n = static_cast<std::size_t>(*v);
    }
    if (n > remaining()) return std::nullopt;
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  std::optional<std::string_view> string() {
    if (peek() != msgpack_kind::string) return std::nullopt;
    auto b = bytes();
    if (!b) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(b->data()), b->size());
  }

  // An array's or map's element count (a map counts pairs). Counts larger than the bytes
  // left are refused: every element takes at least one byte, so a hostile count cannot make
  // the caller reserve memory the message does not back.
  std::optional<std::size_t> array() { return header(0x90, 0xdc, 0xdd, 1); }
  std::optional<std::size_t> map() { return header(0x80, 0xde, 0xdf, 2); }

  // Skips one value of any kind, nested at most `depth` deep.
  bool skip(int depth = 32) {
    if (depth <= 0) return false;
    switch (peek()) {
      case msgpack_kind::nil: ++pos_; return true;
      case msgpack_kind::boolean: ++pos_; return true;
      case msgpack_kind::integer: return integer().has_value();
      case msgpack_kind::floating: return number().has_value();
      case msgpack_kind::string:
      case msgpack_kind::binary: return bytes().has_value();
      case msgpack_kind::array: {
        auto n = array();
        if (!n) return false;
        for (std::size_t i = 0; i < *n; ++i)
          if (!skip(depth - 1)) return false;
        return true;
      }
      case msgpack_kind::map: {
        auto n = map();
        if (!n) return false;
        for (std::size_t i = 0; i < 2 * *n; ++i)
          if (!skip(depth - 1)) return false;
        return true;
      }
      case msgpack_kind::extension: return skip_extension();
      case msgpack_kind::invalid: return false;
    }
    return false;
  }

 private:
  std::optional<std::uint64_t> be(int n) {
    if (static_cast<std::size_t>(n) > remaining()) return std::nullopt;
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | in_[pos_++];
    return v;
  }
  std::optional<std::size_t> header(std::uint8_t fix, std::uint8_t b16, std::uint8_t b32, std::size_t min_bytes) {
    if (pos_ >= in_.size()) return std::nullopt;
    const std::uint8_t b = in_[pos_];
    std::size_t n = 0;
    if ((b & 0xf0u) == fix) {
      n = b & 0x0fu;
      ++pos_;
    } else if (b == b16 || b == b32) {
      ++pos_;
      auto v = be(b == b16 ? 2 : 4);
      if (!v) return std::nullopt;
      n = static_cast<std::size_t>(*v);
    } else {
      return std::nullopt;
    }
    if (n > remaining() / min_bytes) return std::nullopt;
    return n;
  }
  bool skip_extension() {
    const std::uint8_t b = in_[pos_++];
    std::size_t n = 0;
    switch (b) {
      case 0xd4: n = 1; break;
      case 0xd5: n = 2; break;
      case 0xd6: n = 4; break;
      case 0xd7: n = 8; break;
      case 0xd8: n = 16; break;
      default: {
        auto v = be(b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4);
        if (!v) return false;
        n = static_cast<std::size_t>(*v);
      }
    }
    if (n + 1 > remaining()) return false;  // the type byte, then the data
    pos_ += n + 1;
    return true;
  }

  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

}  // namespace planetserve::kvevents::detail
