// SPDX-License-Identifier: MIT
// libFuzzer entry for the tokenizer.json reader and the byte-level BPE encoder: no crash; input
// starting with '{' is read as a tokenizer.json, anything else is encoded by a small built-in
// tokenizer whose ids must spell the text back (invalid UTF-8 read as U+FFFD).
#include <planetserve/tokenize/bpe_tokenizer.hpp>
#include <planetserve/tokenize/utf8_repair.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace tk = planetserve::tokenize;

// Merged tokens of the built-in tokenizer, ids 256 on; their bytes, for spelling ids back.
const std::vector<std::string> merged = {"th", "the", " t", " the", "in", "ing", "  ", "    ", "12", "123"};
const std::vector<std::string> added = {"<|eot_id|>", "<|eot_id|>x", "<s>"};

std::string byte_char(int b) { return tk::byte_level_spelling(std::string(1, static_cast<char>(b))); }

std::string spelled(std::string_view raw) { return tk::byte_level_spelling(raw); }

std::string escaped(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

std::shared_ptr<const tk::bpe_tokenizer> builtin() {
  std::string vocab = "{";
  for (int b = 0; b < 256; ++b) vocab += (b ? ",\"" : "\"") + escaped(byte_char(b)) + "\":" + std::to_string(b);
  for (std::size_t i = 0; i < merged.size(); ++i)
    vocab += ",\"" + escaped(spelled(merged[i])) + "\":" + std::to_string(256 + i);
  vocab += "}";
  const char* merges =
      R"(["t h","th e","Ġ t","Ġt he","i n","in g","Ġ Ġ","ĠĠ ĠĠ","1 2","12 3"])";
  std::string at = "[";
  for (std::size_t i = 0; i < added.size(); ++i)
    at += (i ? "," : "") + std::string(R"({"id":)") + std::to_string(1000 + i) + R"(,"content":")" + escaped(added[i]) +
          R"(","special":true})";
  at += "]";
  const std::string json =
      R"({"added_tokens":)" + at + R"(,"normalizer":null,"pre_tokenizer":{"type":"Sequence","pretokenizers":[)"
      R"({"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},)"
      R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]},"model":{"type":"BPE","ignore_merges":true,"vocab":)" +
      vocab + R"(,"merges":)" + merges + "}}";
  planetserve::diagnostics d;
  auto r = tk::bpe_tokenizer::parse(json, "builtin", d);
  if (!r) std::abort();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (!in.empty() && in.front() == '{') {
    planetserve::diagnostics d;
    auto r = tk::bpe_tokenizer::parse(in, "fuzz.json", d);
    if (r) (void)(*r)->encode("The theme: 123 <|eot|> \xff\n");
    else if (d.message.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  static const auto tok = builtin();
  const auto ids = tok->encode(in);
  std::string want;
  tk::repair_utf8(in, want);
  std::string got;
  for (auto id : ids) {
    if (id < 256) got += static_cast<char>(id);
    else if (id < 256 + merged.size()) got += merged[id - 256];
    else if (id >= 1000 && id < 1000 + added.size()) got += added[id - 1000];
    else std::abort();
  }
  if (got != want) std::abort();
  return 0;
}
