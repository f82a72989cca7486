// SPDX-License-Identifier: MIT
// Tests for planetserve::http::sse_parser: WHATWG field rules and input split at every byte.
#include <planetserve/http/sse_parser.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

using planetserve::http::sse_event;
using planetserve::http::sse_parser;

struct owned_event {
  std::string type, data, id;
  bool operator==(const owned_event&) const = default;
};

std::vector<owned_event> parse_in_pieces(std::string_view input, std::vector<std::size_t> cuts,
                                         sse_parser& p) {
  std::vector<owned_event> out;
  std::size_t at = 0;
  cuts.push_back(input.size());
  for (std::size_t cut : cuts) {
    auto ec = p.feed(input.substr(at, cut - at), [&](const sse_event& e) {
      out.push_back({std::string(e.type), std::string(e.data), std::string(e.id)});
    });
    REQUIRE_FALSE(ec);
    at = cut;
  }
  return out;
}

std::vector<owned_event> parse_whole(std::string_view input) {
  sse_parser p;
  return parse_in_pieces(input, {}, p);
}

// Every split into two pieces and every split into single bytes gives the same events.
void check_all_splits(std::string_view input, const std::vector<owned_event>& expected) {
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    sse_parser p;
    INFO("split at " << cut);
    CHECK(parse_in_pieces(input, {cut}, p) == expected);
  }
  for (std::size_t a = 0; a <= input.size(); ++a) {
    for (std::size_t b = a; b <= input.size(); b += 3) {
      sse_parser p;
      INFO("split at " << a << " and " << b);
      REQUIRE(parse_in_pieces(input, {a, b}, p) == expected);
    }
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
  sse_parser p;
  CHECK(parse_in_pieces(input, every, p) == expected);
}

}  // namespace

TEST_CASE("sse parser: OpenAI-style stream with [DONE]", "[sse]") {
  const std::string input =
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\n"
      "data: [DONE]\n\n";
  std::vector<owned_event> expected{
      {"message", "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}", ""},
      {"message", "{\"choices\":[{\"delta\":{\"content\":\" there\"}}]}", ""},
      {"message", "[DONE]", ""}};
  check_all_splits(input, expected);
}

TEST_CASE("sse parser: LF, CRLF and CR line ends mixed", "[sse]") {
  const std::string input = "data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\n\n";
  check_all_splits(input, {{"message", "a", ""}, {"message", "b", ""}, {"message", "c", ""},
                           {"message", "d", ""}});
}

TEST_CASE("sse parser: multi-line data joined with LF, one leading space removed", "[sse]") {
  const std::string input = "data:first\ndata:  second\ndata\ndata: \n\n";
  check_all_splits(input, {{"message", "first\n second\n\n", ""}});
}

TEST_CASE("sse parser: event, id, retry and comments", "[sse]") {
  const std::string input =
      ": this is a comment\n"
      "event: update\n"
      "id: 42\n"
      "retry: 1500\n"
      "data: x\n"
      "\n"
      "data: y\n"
      "\n"
      "id\n"
      "data: z\n"
      "\n";
  // The id persists to the next event; an empty id field resets it; the type does not persist.
  check_all_splits(input, {{"update", "x", "42"}, {"message", "y", "42"}, {"message", "z", ""}});
  sse_parser p;
  parse_in_pieces(input, {}, p);
  REQUIRE(p.retry().has_value());
  CHECK(*p.retry() == 1500);
  CHECK(p.last_event_id().empty());
}

TEST_CASE("sse parser: ignored fields and lines", "[sse]") {
  using namespace std::string_literals;
  const std::string input =
      "retry: 12a\n"        // not all digits: ignored
      "id: a\0b\n"          // NUL in id: ignored
      "unknown: value\n"    // unknown field
      "event: only-type\n"
      "\n"                  // no data: nothing dispatched, type reset
      "data: after\n"
      "\n"s;
  check_all_splits(input, {{"message", "after", ""}});
  sse_parser p;
  parse_in_pieces(input, {}, p);
  CHECK_FALSE(p.retry().has_value());
}

TEST_CASE("sse parser: leading BOM skipped once, even split", "[sse]") {
  const std::string input = "\xEF\xBB\xBF" "data: a\n\n\xEF\xBB\xBF" "data: b\n\n";
  // The second BOM is not at the start: it becomes part of a field name, so that line is ignored.
  check_all_splits(input, {{"message", "a", ""}});
}

TEST_CASE("sse parser: unterminated last event is not dispatched", "[sse]") {
  sse_parser p;
  auto events = parse_in_pieces("data: a\n\ndata: b\n", {}, p);
  REQUIRE(events.size() == 1);
  CHECK(p.mid_event());
}

TEST_CASE("sse parser: data field with empty value still dispatches", "[sse]") {
  CHECK(parse_whole("data\n\n") == std::vector<owned_event>{{"message", "", ""}});
  CHECK(parse_whole("data:\n\n") == std::vector<owned_event>{{"message", "", ""}});
}

TEST_CASE("sse parser: line and event size limit", "[sse]") {
  sse_parser p(planetserve::http::sse_limits{16});
  int n = 0;
  CHECK_FALSE(p.feed("data: short\n\n", [&](const sse_event&) { ++n; }));
  CHECK(n == 1);
  auto ec = p.feed("data: 0123456789abcdef", [&](const sse_event&) { ++n; });
  CHECK(ec == planetserve::error::line_too_long);
  // Failed parsers stay failed until reset.
  CHECK(p.feed("\n\n", [&](const sse_event&) { ++n; }) == planetserve::error::line_too_long);
  p.reset();
  CHECK_FALSE(p.feed("data: ok\n\n", [&](const sse_event&) { ++n; }));
  CHECK(n == 2);
  // Many short data lines also hit the limit.
  sse_parser q(planetserve::http::sse_limits{16});
  CHECK(q.feed("data: 12345\ndata: 12345\ndata: 12345\n", [](const sse_event&) {}) ==
        planetserve::error::line_too_long);
}

TEST_CASE("sse parser: CR at the end of one feed and LF at the start of the next", "[sse]") {
  sse_parser p;
  std::vector<std::string> data;
  auto cb = [&](const sse_event& e) { data.emplace_back(e.data); };
  CHECK_FALSE(p.feed("data: a\r", cb));
  CHECK_FALSE(p.feed("\n\r", cb));
  CHECK(data == std::vector<std::string>{"a"});
  CHECK_FALSE(p.feed("\ndata: b\n\n", cb));  // this LF ends the CR's line; nothing empty extra
  CHECK(data == std::vector<std::string>{"a", "b"});
}
