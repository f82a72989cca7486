// SPDX-License-Identifier: MIT
// Compiled body of sim::text_generator.
#pragma once

#include <planetserve/sim/random.hpp>
#include <planetserve/sim/text_generator.hpp>
#include <planetserve/tokenize/approx_tokenizer.hpp>

#include <algorithm>
#include <array>

namespace planetserve::sim {

namespace detail {
// Short English words: with a leading space each is at most four bytes, one token.
inline constexpr std::array<std::string_view, 120> generator_words = {
    "the", "a",   "of",  "and", "to",  "in",  "is",  "it",  "for", "on",  "as",  "was", "he",  "she", "we",
    "you", "at",  "by",  "not", "or",  "be",  "are", "but", "all", "can", "had", "her", "one", "our", "out",
    "day", "get", "has", "him", "his", "how", "man", "new", "now", "old", "see", "two", "way", "who", "boy",
    "did", "its", "let", "put", "say", "too", "use", "sun", "sky", "sea", "red", "big", "run", "cat", "dog",
    "map", "cup", "key", "box", "end", "far", "few", "got", "low", "may", "own", "set", "try", "why", "yes",
    "yet", "ago", "air", "ask", "bed", "car", "eye", "fun", "job", "law", "lot", "men", "mix", "off", "pay",
    "per", "sit", "top", "war", "win", "art", "bit", "cut", "dry", "egg", "fit", "gas", "hot", "ice", "joy",
    "kid", "lip", "mud", "net", "oak", "pen", "raw", "sad", "tea", "van", "web", "zoo", "aim", "bay", "fog"};
// One token in this many is a period; the rest are words.
inline constexpr std::size_t period_every = 11;
}  // namespace detail

text_generator::text_generator() {
  const tokenize::approx_tokenizer tok;
  auto id_of = [&](std::string_view text) {
    const auto ids = tok.encode(text);
    return ids.size() == 1 ? ids[0] : tokenize::token_id{0xffffffffU};
  };
  auto known = [&](tokenize::token_id id) {
    return std::any_of(pieces_.begin(), pieces_.end(), [&](const entry& e) { return e.id == id; });
  };
  period_ = id_of(".");
  pieces_.push_back({period_, "."});
  for (auto w : detail::generator_words) {
    // Built by append: GCC 12 at -O3 warns falsely (-Wrestrict) on `" " + std::string(w)`.
    std::string spaced(1, ' ');
    spaced.append(w);
    const auto b = id_of(w);
    const auto s = id_of(spaced);
    // Skip a word whose id collides with one already taken, so decoding is unambiguous.
    if (b == 0xffffffffU || s == 0xffffffffU || b == s || known(b) || known(s)) continue;
    pieces_.push_back({b, std::string(w)});
    pieces_.push_back({s, spaced});
    bare_.push_back(b);
    spaced_.push_back(s);
  }
  std::sort(pieces_.begin(), pieces_.end(), [](const entry& x, const entry& y) { return x.id < y.id; });
}

tokenize::token_id text_generator::token(std::uint64_t seed, std::size_t index) const {
  random r(mix_seed(seed, static_cast<std::uint64_t>(index)));
  const std::uint64_t x = r.next();
  // The period falls at a seeded phase so that sentences differ in length between streams.
  const std::size_t phase = static_cast<std::size_t>(mix_seed(seed, std::uint64_t{0x5eed}) % detail::period_every);
  if (index > 0 && index % detail::period_every == phase) return period_;
  const std::size_t w = static_cast<std::size_t>(x % bare_.size());
  return index == 0 ? bare_[w] : spaced_[w];
}

std::string_view text_generator::piece(tokenize::token_id id) const {
  auto it = std::lower_bound(pieces_.begin(), pieces_.end(), id,
                             [](const entry& e, tokenize::token_id v) { return e.id < v; });
  if (it == pieces_.end() || it->id != id) return {};
  return it->text;
}

void text_generator::decode(const std::vector<tokenize::token_id>& ids, std::string& out) const {
  for (auto id : ids) out += piece(id);
}

}  // namespace planetserve::sim
