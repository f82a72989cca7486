// SPDX-License-Identifier: MIT
// Tests for the server-text sanitiser: valid UTF-8 out, nothing that steers a terminal, bounded.
#include <planetserve/detail/sanitize.hpp>
#include <planetserve/workload/detail/utf8.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace {

using planetserve::detail::sanitized;

bool valid_utf8(const std::string& s) {
  return planetserve::workload::detail::find_invalid_utf8(s) == std::string::npos;
}

}  // namespace

TEST_CASE("sanitize: valid text passes unchanged, ill-formed bytes become U+FFFD", "[sanitize]") {
  CHECK(sanitized("plain ascii") == "plain ascii");
  CHECK(sanitized("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  // A lone continuation byte, an overlong '/', a surrogate and a truncated euro sign.
  const std::string bad = "a\x80" "b\xC0\xAF" "c\xED\xA0\x80" "d\xE2\x82";
  const std::string out = sanitized(bad);
  CHECK(valid_utf8(out));
  CHECK(out.starts_with("a\xEF\xBF\xBD" "b"));
  CHECK(out.find('c') != std::string::npos);
  CHECK(out.find('d') != std::string::npos);
  CHECK(out.find("\xC0") == std::string::npos);
}

TEST_CASE("sanitize: ANSI sequences, controls and bidi overrides are removed", "[sanitize]") {
  CHECK(sanitized("\x1b[31mred\x1b[0m model") == "red model");
  CHECK(sanitized("title\x1b]0;pwned\x07 end") == "title end");
  CHECK(sanitized("bell\x07 nul") == "bell nul");
  CHECK(sanitized(std::string("a\0b", 3)) == "ab");
  CHECK(sanitized("line1\nline2\r\tx") == "line1 line2  x");
  CHECK(sanitized("c1\xC2\x9B" "31m") == "c131m");              // U+009B, the one-byte CSI
  CHECK(sanitized("abc\xE2\x80\xAE" "cba") == "abccba");       // U+202E right-to-left override
  CHECK(sanitized("\x1b[31mx").find('\x1b') == std::string::npos);
  CHECK(sanitized("\x1b").empty());
}

TEST_CASE("sanitize: a cut through a multi-byte character stays valid and is marked", "[sanitize]") {
  std::string text;
  for (int i = 0; i < 150; ++i) text += "\xC3\xA9";  // 300 bytes of 'é'
  for (std::size_t cap : {200u, 201u, 199u, 5u, 4u, 3u}) {
    const auto out = sanitized(text, cap);
    INFO("cap " << cap);
    CHECK(out.size() <= cap);
    CHECK(valid_utf8(out));
    CHECK(out.ends_with("\xE2\x80\xA6"));  // "…": something was cut
  }
  CHECK(sanitized(text, 300) == text);  // fits exactly: not cut
  CHECK(sanitized(text, 2).empty());    // no room even for the mark
  // Four-byte characters cut at every offset.
  std::string emoji;
  for (int i = 0; i < 20; ++i) emoji += "\xF0\x9F\x98\x80";
  for (std::size_t cap = 0; cap < 30; ++cap) {
    const auto out = sanitized(emoji, cap);
    CHECK(out.size() <= cap);
    CHECK(valid_utf8(out));
  }
}

TEST_CASE("sanitize: appending keeps what is already there and bounds only the new text", "[sanitize]") {
  std::string out = "HTTP 500: ";
  planetserve::detail::append_sanitized(out, std::string(2 << 20, 'x'));
  CHECK(out.starts_with("HTTP 500: xxx"));
  CHECK(out.size() <= 10 + planetserve::detail::server_text_cap);
}
