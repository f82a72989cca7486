// SPDX-License-Identifier: MIT
// Tests for the approximate tokenizer: prefix stability, density, determinism.
#include <planetserve/tokenize/approx_tokenizer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

using planetserve::tokenize::approx_tokenizer;
using planetserve::tokenize::approx_tokenizer_config;

namespace {
const std::string english =
    "Prefix caching lets a server reuse the attention keys and values it computed for an "
    "earlier request whose prompt starts the same way. The router's job is to send requests "
    "that share a long prefix to the same server, while keeping every server busy but not "
    "overloaded. Measuring time to first token under a realistic arrival process shows how "
    "well a routing policy does both.";
}

TEST_CASE("approx tokenizer: a text ending at a word boundary tokenizes to a prefix", "[tokenize]") {
  approx_tokenizer tok;
  const auto whole = tok.encode(english);
  for (std::size_t cut = 1; cut < english.size(); ++cut) {
    // Cut right before a space: the prefix ends where a word ends.
    if (english[cut] != ' ') continue;
    const auto part = tok.encode(std::string_view(english).substr(0, cut));
    REQUIRE(part.size() <= whole.size());
    INFO("cut at " << cut);
    CHECK(std::equal(part.begin(), part.end(), whole.begin()));
  }
}

TEST_CASE("approx tokenizer: a cut inside a word changes only the last token", "[tokenize]") {
  approx_tokenizer tok;
  const auto whole = tok.encode(english);
  for (std::size_t cut = 1; cut < english.size(); ++cut) {
    const auto part = tok.encode(std::string_view(english).substr(0, cut));
    REQUIRE(!part.empty());
    INFO("cut at " << cut);
    CHECK(std::equal(part.begin(), part.end() - 1, whole.begin()));
  }
}

TEST_CASE("approx tokenizer: pieces follow Llama 3's pre-tokenizer classes", "[tokenize]") {
  approx_tokenizer tok;
  CHECK(tok.count("1234567") == 3);               // digits by three
  CHECK(tok.count(" hello") == 1);                // a word keeps its leading space
  CHECK(tok.count(" internationalization") == 3);  // 21 bytes, 9 per piece
  // `{"` `model` `":` ` ` `1` `}`, as Llama 3 splits it.
  CHECK(tok.count("{\"model\": 1}") == 6);
  // A quote leads the word it precedes; eight spaces of indentation are four pieces and the
  // last space leads the word.
  CHECK(tok.encode("\"model").size() == 1);
  CHECK(tok.count("         x") == 5);
  CHECK(tok.encode("         x").back() == tok.encode(" x").front());
}

TEST_CASE("approx tokenizer: about five bytes per token on English text, as Llama 3", "[tokenize]") {
  approx_tokenizer tok;
  const auto ids = tok.encode(english);
  const double bytes_per_token = static_cast<double>(english.size()) / static_cast<double>(ids.size());
  CHECK(bytes_per_token > 4.0);
  CHECK(bytes_per_token < 6.0);
  CHECK(tok.count(english) == ids.size());
}

TEST_CASE("approx tokenizer: deterministic, seeded, ids within the vocabulary", "[tokenize]") {
  approx_tokenizer a, b;
  approx_tokenizer c(approx_tokenizer_config{.vocab_size = 1000, .seed = 7});
  CHECK(a.encode(english) == b.encode(english));
  const auto seeded = c.encode(english);
  CHECK(seeded != a.encode(english));
  CHECK(std::all_of(seeded.begin(), seeded.end(), [](auto id) { return id < 1000; }));
  CHECK(a.encode("").empty());
  // Different words get different ids (no degenerate hashing).
  CHECK(a.encode(" cat") != a.encode(" dog"));
  CHECK_THROWS(approx_tokenizer(approx_tokenizer_config{.word_piece_bytes = 0}));
  CHECK_THROWS(approx_tokenizer(approx_tokenizer_config{.space_piece_bytes = 0}));
}
