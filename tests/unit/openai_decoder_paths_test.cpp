// SPDX-License-Identifier: MIT
// The chunk decoder's fast (hand-written) path and its DOM fallback give the same answers.
#include <planetserve/openai/chunk_decoder.hpp>
#include <planetserve/openai/detail/chunk_paths.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ps = planetserve;
namespace oa = planetserve::openai;
using namespace std::string_literals;

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

// The full parse of `text` succeeds with the same chunk as the fast path's `fast`.
void full_parse_agrees(const std::string& text, const oa::chunk& fast) {
  oa::chunk full;
  unsigned char scratch[512];
  ps::diagnostics diag;
  const auto ec = oa::detail::decode_full(text, full, diag, scratch, sizeof scratch);
  INFO(text << " -> " << diag.message);
  REQUIRE_FALSE(ec);
  CHECK(fast.content == full.content);
  CHECK(fast.finish_reason == full.finish_reason);
  CHECK(fast.id == full.id);
  REQUIRE(fast.usage.has_value() == full.usage.has_value());
  if (fast.usage) {
    CHECK(fast.usage->prompt_tokens == full.usage->prompt_tokens);
    CHECK(fast.usage->completion_tokens == full.usage->completion_tokens);
    CHECK(fast.usage->cached_tokens == full.usage->cached_tokens);
  }
  CHECK_FALSE(fast.error);
  CHECK_FALSE(full.error);
}

// Whenever the fast path takes a text, the full parse succeeds on it with the same chunk.
// Returns whether the fast path took it.
bool paths_agree(const std::string& text) {
  oa::chunk fast;
  if (!oa::detail::scan_chunk(text, fast)) return false;
  full_parse_agrees(text, fast);
  return true;
}

// The same, for `text` read right after `prev` with one frame (as one stream's chunks are).
bool frame_paths_agree(const std::string& prev, const std::string& text) {
  oa::detail::chunk_frame frame;
  oa::chunk first, fast;
  oa::detail::scan_chunk(prev, first, frame);
  if (!oa::detail::scan_chunk(text, fast, frame)) return false;
  INFO("after " << prev);
  full_parse_agrees(text, fast);
  return true;
}

// The shapes servers send, each of which the fast path must take.
const std::vector<std::string>& common_chunks() {
  static const std::vector<std::string> v{
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"m",)"
      R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})",
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"m",)"
      R"("choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]})",
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"m",)"
      R"("choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"length","stop_reason":null}]})",
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"m","choices":[],)"
      R"("usage":{"prompt_tokens":17,"total_tokens":33,"completion_tokens":16,"prompt_tokens_details":{"cached_tokens":16}}})",
      R"({"id":"cmpl-2","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" a\n\"b\"",)"
      R"("logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null})",
      R"({"choices":[{"delta":{"reasoning_content":"think","content":null}}],"usage":{"prompt_tokens":3,)"
      R"("completion_tokens":0,"prompt_tokens_details":null}})",
      R"({"choices":[{"message":{"role":"assistant","content":"caf\u00e9 \ud83d\ude00 na)" "\xc3\xaf" R"(ve )"
      "\xe2\x82\xac \xf0\x9f\x98\x80" R"("},)"
      R"("finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}})",
      " \r\n\t{ \"choices\" : [ { \"text\" : \"x\" } ] , \"n\":[1.5e3,-0.25,true,false,null,{}] } \n",
      R"({"choices":[{"text":"a"},{"text":"b","finish_reason":""},{"text":"c","finish_reason":"stop"}]})",
      R"({"object":"not an error","error":null,"usage":{"prompt_tokens_details":7}})",
  };
  return v;
}

}  // namespace

TEST_CASE("openai: the fast path takes the common chunk shapes and agrees with the full parse", "[openai]") {
  for (const auto& text : common_chunks()) {
    INFO(text);
    CHECK(paths_agree(text));
  }
  oa::chunk ch;
  REQUIRE(oa::detail::scan_chunk(common_chunks()[6], ch));
  CHECK(ch.content == "caf\xc3\xa9 \xf0\x9f\x98\x80 na\xc3\xafve \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(ch.finish_reason == "stop");
  REQUIRE(oa::detail::scan_chunk(common_chunks()[3], ch));
  REQUIRE(ch.usage);
  // The response id is read on both paths, escapes decoded; a non-string id is ignored.
  for (const std::string text : {R"({"id":"chatcmpl-a\u0062c","choices":[]})", R"({"id":7,"choices":[]})"}) {
    oa::chunk fast;
    REQUIRE(oa::detail::scan_chunk(text, fast));
    CHECK(fast.id == (text.find("chatcmpl") != std::string::npos ? "chatcmpl-abc" : ""));
    full_parse_agrees(text, fast);
  }
  CHECK(ch.usage->cached_tokens == 16u);
}

TEST_CASE("openai: the fast path leaves what it cannot judge to the full parse", "[openai]") {
  // Each is either an error, invalid, or a form the full parse must decide.
  const std::vector<std::string> declined{
      R"({"error":{"message":"x"}})",
      R"({"object":"error","message":"x"})",
      R"({"object":"err\u006fr","message":"x"})",
      R"({"choices":[{"text":5}]})",
      R"({"choices":[{"text":"a","text":"b"}]})",
      R"({"choic\u0065s":[{"text":"a"}]})",
      R"({"usage":{"prompt_tokens":12.9}})",
      R"({"usage":{"prompt_tokens":-0}})",
      R"({"usage":{"prompt_tokens":1e2}})",
      R"({"usage":{"prompt_tokens":01}})",
      R"({"usage":{"prompt_tokens":18446744073709551615}})",
      R"({"choices":[{"text":"\ud83d"}]})",
      R"({"choices":[{"text":"\udc00"}]})",
      R"({"choices":[{"text":"\x"}]})",
      "{\"choices\":[{\"text\":\"\xc0\xaf\"}]}",
      "{\"choices\":[{\"text\":\"\xed\xa0\x80\"}]}",
      "{\"choices\":[{\"text\":\"\xf4\x90\x80\x80\"}]}",
      "{\"choices\":[{\"text\":\"a\nb\"}]}",
      R"({"choices":[{"text":"a"},]})",
      R"({"choices":[{"text":"a"}]} x)",
      R"({"n":1e99999})",
      R"([{"choices":[]}])",
      R"({"n":)" + std::string(40, '[') + std::string(40, ']') + "}",
  };
  for (const auto& text : declined) {
    INFO(text);
    oa::chunk ch;
    CHECK_FALSE(oa::detail::scan_chunk(text, ch));
  }
}

TEST_CASE("openai: fast and full paths agree on mutated chunks", "[openai]") {
  // Byte flips, deletions, insertions and splices of the common shapes, seeded: whatever
  // the fast path accepts, the full parse must accept with the same answer.
  std::mt19937_64 rng(20261128);
  const std::string alphabet = "{}[]\":,.-+eE0123456789 \\/\"ntfrulbacx\x80\xc3\xa9\xff\x01"
                               "\x00"s;
  std::size_t taken = 0, tried = 0;
  for (const auto& seed : common_chunks()) {
    for (int round = 0; round < 1500; ++round) {
      std::string t = seed;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !t.empty(); ++e) {
        const std::size_t at = rng() % t.size();
        switch (rng() % 4) {
          case 0: t[at] = alphabet[rng() % alphabet.size()]; break;
          case 1: t.erase(at, 1 + rng() % 3); break;
          case 2: t.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
          default: {
            const auto& other = common_chunks()[rng() % common_chunks().size()];
            const std::size_t from = rng() % other.size();
            t.insert(at, other.substr(from, 1 + rng() % 12));
          }
        }
      }
      ++tried;
      if (paths_agree(t)) ++taken;
    }
  }
  // Both outcomes occur, so the comparison above ran on texts the fast path took.
  CHECK(taken > tried / 20);
  CHECK(taken < tried);
}

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

TEST_CASE("openai: a stream's chunks read through the last chunk's frame agree with the full parse", "[openai]") {
  const std::string head = R"({"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,)";
  const auto content = [&](const std::string& json_text) {
    return head + R"("delta":{"content":)" + json_text + R"(},"logprobs":null,"finish_reason":null}]})";
  };
  const std::string role = head + R"("delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})";
  const std::string last = head + R"("delta":{"content":"!"},"logprobs":null,"finish_reason":"length","stop_reason":null}]})";
  const std::string usage = R"({"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"m","choices":[],)"
                            R"("usage":{"prompt_tokens":5,"total_tokens":9,"completion_tokens":4}})";
  const std::vector<std::string> stream{role, content(R"("Hi")"), content(R"(" the\"re\n")"),
                                        content(R"(" caf\u00e9 \ud83d\ude00")"), content(R"("")"), last, usage};
  oa::chunk_decoder dec;
  std::string text;
  std::string finish;
  for (const auto& c : stream) {
    oa::chunk ch;
    ps::diagnostics diag;
    INFO(c);
    REQUIRE_FALSE(dec.decode(c, ch, diag));
    text += ch.content;
    if (!ch.finish_reason.empty()) finish = ch.finish_reason;
  }
  CHECK(text == "Hi the\"re\n caf\xc3\xa9 \xf0\x9f\x98\x80!");
  CHECK(finish == "length");
  for (std::size_t i = 1; i < stream.size(); ++i) frame_paths_agree(stream[i - 1], stream[i]);
  // Same frame, so read through it.
  CHECK(frame_paths_agree(content(R"("a")"), content(R"("b\u0041")")));
  // A text that closes its string early changes the parse: the frame is not used (and the
  // full scan finds the rest invalid), or the full scan reads the new shape.
  CHECK_FALSE(frame_paths_agree(content(R"("a")"), content(R"("x","delta":{"content":"y")")));
  CHECK(frame_paths_agree(content(R"("a")"), content(R"("x","extra":"y")")));
  // Invalid text inside the frame: declined, and the decoder reports the full parse's error.
  CHECK_FALSE(frame_paths_agree(content(R"("a")"), content("\"\xc3\"")));
  oa::chunk ch;
  ps::diagnostics diag;
  REQUIRE_FALSE(dec.decode(content(R"("a")"), ch, diag));
  CHECK(dec.decode(content("\"\xff\""), ch, diag) == ps::error::invalid_json);
  CHECK(dec.decode(content("\"\x01\""), ch, diag) == ps::error::invalid_json);
  // A finish_reason before the text is part of the frame and carried over.
  const std::string stop_first = head + R"("finish_reason":"stop","delta":{"content":"p"}}]})";
  const std::string stop_next = head + R"("finish_reason":"stop","delta":{"content":"q"}}]})";
  CHECK(frame_paths_agree(stop_first, stop_next));
  // Two texts in the previous chunk leave no frame to use.
  const std::string two = head + R"("text":"t","delta":{"content":"p"}}]})";
  const std::string two_next = head + R"("text":"t","delta":{"content":"q"}}]})";
  oa::detail::chunk_frame frame;
  REQUIRE(oa::detail::scan_chunk(two, ch, frame));
  CHECK_FALSE(frame.valid);
  CHECK(frame_paths_agree(two, two_next));
  REQUIRE(oa::detail::scan_chunk(two_next, ch, frame));
  CHECK(ch.content == "tq");
}

TEST_CASE("openai: frame reads agree with the full parse on mutated texts", "[openai]") {
  // Chunk B keeps chunk A's frame and gets a random text between its quotes, from an alphabet
  // of quotes, escapes, control, multi-byte and invalid bytes.
  std::mt19937_64 rng(11);
  const std::string head = R"({"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")";
  const std::string tail = R"("},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":3,"completion_tokens":1}})";
  const std::vector<std::string> pieces{"a", " ", "\"", "\\", "\\n", "\\\"", "\\u00e9", "\\ud83d", "\\ude00",
                                        "\\x", "\xc3\xa9", "\xc3", "\xff", "\x01", "\t", ",", "}", "]", ":", "{"};
  std::size_t taken = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string mid;
    const int n = static_cast<int>(rng() % 6);
    for (int j = 0; j < n; ++j) mid += pieces[rng() % pieces.size()];
    if (frame_paths_agree(head + "a" + tail, head + mid + tail)) ++taken;
  }
  CHECK(taken > 500);
  CHECK(taken < 5000);
}
