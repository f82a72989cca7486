// SPDX-License-Identifier: MIT
// The chunk decoder's fast (SAX) path and its DOM fallback give the same answers.
#include <planetserve/openai/chunk_decoder.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace ps = planetserve;
namespace oa = planetserve::openai;

namespace {

oa::chunk decode_ok(const std::string& text) {
  oa::chunk_decoder dec;
  oa::chunk ch;
  ps::diagnostics diag;
  const auto ec = dec.decode(text, ch, diag);
  INFO(text << " -> " << diag.message);
  REQUIRE_FALSE(ec);
  return ch;
}

}  // namespace

TEST_CASE("openai: decoder keeps the content order whatever the field order", "[openai]") {
  // reasoning_content comes before content, delta before message, text first, per choice.
  auto ch = decode_ok(R"({"choices":[{"delta":{"content":"B","reasoning_content":"A"},"text":"0"},)"
                      R"({"message":{"content":"D"},"delta":{"content":"C"}}]})");
  CHECK(ch.content == "0ABCD");
  CHECK(ch.finish_reason.empty());
  CHECK_FALSE(ch.usage);
  CHECK_FALSE(ch.error);
}

TEST_CASE("openai: decoder takes the first non-empty finish_reason", "[openai]") {
  auto ch = decode_ok(R"({"choices":[{"finish_reason":""},{"finish_reason":null},{"finish_reason":"length"},)"
                      R"({"finish_reason":"stop"}]})");
  CHECK(ch.finish_reason == "length");
}

TEST_CASE("openai: decoder reads usage counts of every number form", "[openai]") {
  auto ch = decode_ok(R"({"usage":{"prompt_tokens":12.9,"completion_tokens":18446744073709551615,)"
                      R"("prompt_tokens_details":{"cached_tokens":4}},"choices":[]})");
  REQUIRE(ch.usage);
  CHECK(ch.usage->prompt_tokens == 12);
  CHECK(ch.usage->completion_tokens == 18446744073709551615ull);
  REQUIRE(ch.usage->cached_tokens);
  CHECK(*ch.usage->cached_tokens == 4);
  auto empty = decode_ok(R"({"usage":{"prompt_tokens_details":null}})");
  REQUIRE(empty.usage);
  CHECK(empty.usage->prompt_tokens == 0);
  CHECK_FALSE(empty.usage->cached_tokens);
  CHECK_FALSE(decode_ok(R"({"usage":null,"choices":null})").usage);
}

TEST_CASE("openai: decoder skips unknown fields of any shape and escaped text", "[openai]") {
  auto ch = decode_ok(R"({"id":"x","extra":{"a":[1,{"content":"no"},[[[[[[[[[]]]]]]]]]],"b":null},)"
                      R"("object":"chat.completion.chunk","choices":[{"index":0,"logprobs":{"content":[{"token":"t"}]},)"
                      R"("delta":{"role":"assistant","tool_calls":[],"content":"a\"\n\u00e9\ud83d\ude00"}}]})");
  CHECK(ch.content == "a\"\n\xc3\xa9\xf0\x9f\x98\x80");
}

TEST_CASE("openai: decoder falls back for error objects, repeated and mistyped fields", "[openai]") {
  // `"object":"error"` is the flat error shape; a repeated field is decided by the full parse.
  auto flat = decode_ok(R"({"object":"error","message":"boom","type":"T"})");
  REQUIRE(flat.error);
  CHECK(flat.error->message == "boom");
  auto nested = decode_ok(R"({"choices":[],"error":{"message":"bad","code":400}})");
  REQUIRE(nested.error);
  CHECK(nested.error->code == "400");
  CHECK_FALSE(decode_ok(R"({"error":null,"choices":[{"text":"x"}]})").error);
  oa::chunk_decoder dec;
  oa::chunk ch;
  ps::diagnostics diag;
  CHECK(dec.decode(R"({"choices":[{"text":5}]})", ch, diag) == ps::error::wrong_field_type);
  CHECK(dec.decode(R"({"choices":[7]})", ch, diag) == ps::error::wrong_field_type);
  CHECK(dec.decode(R"({"usage":{"prompt_tokens":-1}})", ch, diag) == ps::error::wrong_field_type);
  CHECK(dec.decode(R"([1,2])", ch, diag) == ps::error::wrong_field_type);
  CHECK(dec.decode(R"("text")", ch, diag) == ps::error::wrong_field_type);
  CHECK(dec.decode(R"({"choices":[{"text":"a"}]} x)", ch, diag) == ps::error::invalid_json);
  // A later finish_reason of a wrong type is ignored once one was found, as before.
  auto later = decode_ok(R"({"choices":[{"finish_reason":"stop"},{"finish_reason":3}]})");
  CHECK(later.finish_reason == "stop");
  // The same decoder goes on working after a fallback.
  CHECK(decode_ok(R"({"choices":[{"delta":{"content":"ok"}}]})").content == "ok");
}
