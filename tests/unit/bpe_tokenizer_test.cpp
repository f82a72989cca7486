// SPDX-License-Identifier: MIT
// Tests of tokenize::bpe_tokenizer on small tokenizer.json files built here, and of its refusals.
#include <planetserve/sim/chat_template.hpp>
#include <planetserve/tokenize/bpe_tokenizer.hpp>
#include <planetserve/tokenize/utf8_repair.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace planetserve;
using tokenize::bpe_tokenizer;
using tokenize::token_id;

namespace {

// GPT-2's byte alphabet, spelled as a tokenizer.json spells byte-level vocabulary entries.
std::string byte_char(int b) { return tokenize::byte_level_spelling(std::string(1, static_cast<char>(b))); }

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

struct tiny {
  std::vector<std::string> merges;          // "a b" in byte-level spelling
  std::vector<std::string> extra_vocab;      // merged tokens, spelled, ids from 256 on
  std::string added = "[]";                  // the added_tokens array
  std::string pre = R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":false})";
  std::string model_extra;                   // more "model" fields, with a leading comma
  std::string normalizer = "null";
  std::string post = "null";
  std::string type = "BPE";
  bool all_bytes = true;

  std::string json() const {
    std::string v = "{";
    bool first = true;
    for (int b = 0; b < 256; ++b) {
      if (!all_bytes && b == 0x01) continue;
      if (!first) v += ',';
      first = false;
      v += "\"" + json_escape(byte_char(b)) + "\":" + std::to_string(b);
    }
    for (std::size_t i = 0; i < extra_vocab.size(); ++i)
      v += ",\"" + json_escape(extra_vocab[i]) + "\":" + std::to_string(256 + i);
    v += "}";
    std::string m = "[";
    for (std::size_t i = 0; i < merges.size(); ++i) m += (i ? ",\"" : "\"") + json_escape(merges[i]) + "\"";
    m += "]";
    return R"({"version":"1.0","added_tokens":)" + added + R"(,"normalizer":)" + normalizer +
           R"(,"pre_tokenizer":)" + pre + R"(,"post_processor":)" + post + R"(,"model":{"type":")" + type +
           R"(","vocab":)" + v + R"(,"merges":)" + m + model_extra + "}}";
  }

  std::shared_ptr<const bpe_tokenizer> load() const {
    diagnostics d;
    auto r = bpe_tokenizer::parse(json(), "tiny.json", d);
    INFO(d.message);
    REQUIRE(r.has_value());
    return *r;
  }
};

std::vector<token_id> ids(std::initializer_list<int> l) { return {l.begin(), l.end()}; }

const std::string llama3_split =
    R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]})";

}  // namespace

TEST_CASE("bpe: byte-level spelling is GPT-2's alphabet", "[tokenize][bpe]") {
  CHECK(tokenize::byte_level_spelling(" the") == "Ġthe");
  CHECK(tokenize::byte_level_spelling("a\nb\t") == "aĊbĉ");
  CHECK(tokenize::byte_level_spelling("\xC3\xA9") == "Ã©");  // é's two bytes
  CHECK(tokenize::byte_level_spelling(std::string(1, '\0')) == "Ā");
  CHECK(tokenize::byte_level_spelling("\xAD") == "Ń");  // the soft hyphen, the last of the 68 moved bytes
}

TEST_CASE("bpe: merges apply lowest rank first, leftmost among equals", "[tokenize][bpe]") {
  tiny t;
  t.merges = {"b c", "a b"};
  t.extra_vocab = {"bc", "ab"};
  CHECK(t.load()->encode("abc") == ids({'a', 256}));
  tiny u;
  u.merges = {"a b", "b c"};
  u.extra_vocab = {"ab", "bc"};
  CHECK(u.load()->encode("abc") == ids({256, 'c'}));
  tiny v;
  v.merges = {"a a"};
  v.extra_vocab = {"aa"};
  CHECK(v.load()->encode("aaaaa") == ids({256, 256, 'a'}));
}

TEST_CASE("bpe: merged tokens merge again into longer ones", "[tokenize][bpe]") {
  tiny t;
  t.merges = {"l l", "h e", "he ll", "hell o"};
  t.extra_vocab = {"ll", "he", "hell", "hello"};
  const auto tok = t.load();
  CHECK(tok->encode("hello") == ids({259}));
  CHECK(tok->encode("hellhe") == ids({258, 257}));
  CHECK(tok->vocab_size() == 260);
}

TEST_CASE("bpe: the pre-tokenizer regex bounds merges; spaces are bytes of the alphabet", "[tokenize][bpe]") {
  tiny t;
  t.pre = llama3_split;
  t.merges = {"o Ġ", "Ġ w"};  // "o " would merge if pieces did not stop at the word
  t.extra_vocab = {"oĠ", "Ġw"};
  const auto tok = t.load();
  CHECK(tok->encode("o w") == ids({'o', 257}));
  // Three-digit groups, contractions (ASCII only) and newline runs are pieces of their own.
  tiny d;
  d.pre = llama3_split;
  d.merges = {"1 2", "12 3", "3 4", "' S"};
  d.extra_vocab = {"12", "123", "34", "'S"};
  const auto dt = d.load();
  CHECK(dt->encode("1234") == ids({257, '4'}));
  CHECK(dt->encode("I'S") == ids({'I', 259}));
}

TEST_CASE("bpe: ignore_merges takes a whole piece that is in the vocabulary", "[tokenize][bpe]") {
  tiny t;
  t.merges = {"a b"};
  t.extra_vocab = {"ab", "abc"};  // "abc" has no merge path
  CHECK(t.load()->encode("abc") == ids({256, 'c'}));
  t.model_extra = R"(,"ignore_merges":true)";
  CHECK(t.load()->encode("abc") == ids({257}));
}

TEST_CASE("bpe: added tokens are single ids, matched leftmost-longest before pre-tokenization", "[tokenize][bpe]") {
  tiny t;
  t.pre = llama3_split;
  t.added = R"([{"id":300,"content":"<|eot|>","special":true},{"id":301,"content":"<|eot|>x","special":true},
                {"id":302,"content":"<|a","special":true,"rstrip":true},{"id":303,"content":"b|>","lstrip":true}])";
  const auto tok = t.load();
  CHECK(tok->encode("q<|eot|>r") == ids({'q', 300, 'r'}));
  CHECK(tok->encode("<|eot|>x") == ids({301}));
  CHECK(tok->encode("<|eot|") == ids({'<', '|', 'e', 'o', 't', '|'}));
  // rstrip eats the white space after the token, lstrip the white space before.
  CHECK(tok->encode("<|a  q  b|>") == ids({302, 'q', 303}));
  CHECK(tok->token_to_id("<|eot|>") == token_id{300});
  CHECK(tok->token_to_id("Ġ") == token_id{' '});
  CHECK_FALSE(tok->token_to_id("nope").has_value());
}

TEST_CASE("bpe: invalid UTF-8 is read as U+FFFD, as the reference decodes it", "[tokenize][bpe]") {
  tiny t;
  const auto tok = t.load();
  const std::vector<token_id> fffd = {0xEF, 0xBF, 0xBD};
  CHECK(tok->encode("\xFF") == fffd);
  std::vector<token_id> two = fffd;
  two.insert(two.end(), fffd.begin(), fffd.end());
  CHECK(tok->encode("\xE2\x82") == fffd);          // a truncated sequence: one replacement
  CHECK(tok->encode("\xED\xA0\x80").size() == 9);  // a surrogate: three
  CHECK(tok->encode("\xC0\xAF") == two);           // an overlong: two
}

TEST_CASE("bpe: repair_utf8 follows the maximal-subpart rule", "[tokenize][utf8]") {
  auto fix = [](std::string_view s) {
    std::string o;
    tokenize::repair_utf8(s, o);
    return o;
  };
  CHECK(tokenize::is_valid_utf8("plain ascii text, long enough for the 8-byte path"));
  CHECK(tokenize::is_valid_utf8("\xF0\x9F\x98\x80 \xE4\xB8\xAD"));
  CHECK_FALSE(tokenize::is_valid_utf8("abcdefgh\x80"));
  CHECK_FALSE(tokenize::is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  CHECK(fix("a\xF0\x9F\x98z") == "a\xEF\xBF\xBDz");
  CHECK(fix("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");
  CHECK(fix("\x80\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(fix("\xE0\x80\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("bpe: byte fallback covers a byte the vocabulary lacks", "[tokenize][bpe]") {
  tiny t;
  t.all_bytes = false;  // byte 0x01 has no token
  t.extra_vocab = {"<0xC4>", "<0x81>"};
  t.model_extra = R"(,"byte_fallback":true)";
  // 0x01's alphabet character is U+0101, UTF-8 C4 81: the reference falls back on those bytes.
  CHECK(t.load()->encode("a\x01") == ids({'a', 256, 257}));
  tiny u;
  u.all_bytes = false;
  diagnostics d;
  CHECK_FALSE(bpe_tokenizer::parse(u.json(), "nofallback.json", d).has_value());
  CHECK_THAT(d.message, Catch::Contains("nofallback.json") && Catch::Contains("0x01") &&
                            Catch::Contains("byte_fallback"));
}

TEST_CASE("bpe: the post-processor's prefix is exposed", "[tokenize][bpe]") {
  tiny t;
  t.added = R"([{"id":300,"content":"<s>","special":true}])";
  t.post = R"({"type":"Sequence","processors":[{"type":"ByteLevel"},{"type":"TemplateProcessing",
    "single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
    "special_tokens":{"<s>":{"id":"<s>","ids":[300],"tokens":["<s>"]}}}]})";
  const auto tok = t.load();
  REQUIRE(tok->prefix_ids().size() == 1);
  CHECK(tok->prefix_ids()[0] == 300);
  CHECK(tok->encode("a") == ids({'a'}));
}

TEST_CASE("bpe: ByteLevel with use_regex splits as GPT-2 and may add a prefix space", "[tokenize][bpe]") {
  tiny t;
  t.pre = R"({"type":"ByteLevel","add_prefix_space":true,"use_regex":true})";
  t.merges = {"Ġ a", "Ġa b"};
  t.extra_vocab = {"Ġa", "Ġab"};
  CHECK(t.load()->encode("ab ab") == ids({257, 257}));
}

TEST_CASE("bpe: unsupported or broken files are refused naming the file, the field and what works", "[tokenize][bpe]") {
  auto refuse = [](const std::string& json, std::initializer_list<const char*> words) {
    diagnostics d;
    auto r = bpe_tokenizer::parse(json, "models/tok.json", d);
    CHECK_FALSE(r.has_value());
    INFO(d.message);
    CHECK_THAT(d.message, Catch::StartsWith("models/tok.json: "));
    for (const char* w : words) CHECK_THAT(d.message, Catch::Contains(w));
  };
  tiny wp;
  wp.type = "WordPiece";
  refuse(wp.json(), {"model.type", "WordPiece", "byte-level BPE"});
  tiny ug;
  ug.type = "Unigram";
  refuse(ug.json(), {"model.type", "Unigram"});
  tiny sp;
  sp.pre = R"({"type":"Metaspace","replacement":"▁"})";
  refuse(sp.json(), {"pre_tokenizer.type", "Metaspace", "Split, ByteLevel"});
  tiny chars;
  chars.pre = R"({"type":"Split","pattern":{"Regex":"\\s+"},"behavior":"Isolated"})";
  refuse(chars.json(), {"pre_tokenizer", "no \"ByteLevel\""});
  tiny sentencepiece;  // Llama 2's shape: a normalizer and no pre-tokenizer; the BPE is over characters
  sentencepiece.normalizer = R"({"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"}]})";
  sentencepiece.pre = "null";
  refuse(sentencepiece.json(), {"pre_tokenizer", "BPE over characters"});
  tiny nfc;
  nfc.normalizer = R"({"type":"NFC"})";
  refuse(nfc.json(), {"normalizer", "NFC"});
  tiny badre;
  badre.pre = R"({"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"})";
  refuse(badre.json(), {"pre_tokenizer.pattern", "offset"});
  tiny merged;
  merged.pre = R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"a"},"behavior":"MergedWithNext"},{"type":"ByteLevel"}]})";
  refuse(merged.json(), {"pre_tokenizer.pretokenizers[0].behavior", "MergedWithNext", "Isolated"});
  refuse("{not json", {"not valid JSON", "tokenizer.json"});
  refuse(R"({"model":{"type":"BPE","vocab":[],"merges":[]}})", {"model.vocab"});
  diagnostics d;
  auto missing = bpe_tokenizer::load("/nonexistent/tokenizer.json", d);
  CHECK(missing.error() == make_error_code(error::file_not_found));
  CHECK_THAT(d.message, Catch::Contains("/nonexistent/tokenizer.json"));
}

TEST_CASE("bpe: a chat prompt's special tokens are single ids of the tokenizer.json", "[tokenize][bpe][chat]") {
  tiny t;
  t.pre = llama3_split;
  t.added = R"([{"id":128000,"content":"<|begin_of_text|>","special":true},
                {"id":128006,"content":"<|start_header_id|>","special":true},
                {"id":128007,"content":"<|end_header_id|>","special":true},
                {"id":128009,"content":"<|eot_id|>","special":true}])";
  const auto tok = t.load();
  const auto ids = sim::llama3_chat_prompt({{"user", "hi"}}, *tok);
  REQUIRE(ids.size() > 8);
  CHECK(ids[0] == 128000);
  CHECK(ids[1] == 128006);
  CHECK(std::count(ids.begin(), ids.end(), token_id{128009}) == 2);
  CHECK(std::count(ids.begin(), ids.end(), token_id{128007}) == 3);
  // The default tokenizer (no tokenizer.json) gives the same special ids.
  const auto approx_ids = sim::llama3_chat_prompt({{"user", "hi"}}, *sim::default_prompt_tokenizer());
  CHECK(approx_ids[0] == 128000);
  CHECK(std::count(approx_ids.begin(), approx_ids.end(), token_id{128009}) == 2);
}
