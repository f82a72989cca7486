// SPDX-License-Identifier: MIT
// sim::text_generator: deterministic readable output text, one approx_tokenizer token per piece.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::sim {

/// Produces the emulator's output: words of at most three letters (so " word" is one
/// token of the approximate tokenizer) and a period every so often. Token k of a stream
/// depends only on (seed, k), so a request's output is reproducible and independent of
/// batching. Re-tokenizing the produced text with the default approx_tokenizer gives back
/// exactly the produced ids, so usage counts and /tokenize agree.
class text_generator {
 public:
  text_generator();

  /// Id of token `index` of the stream seeded with `seed`.
  tokenize::token_id token(std::uint64_t seed, std::size_t index) const;

  /// Text of a token id this generator produces ("" for ids it never produces).
  std::string_view piece(tokenize::token_id id) const;

  /// Appends the text of `ids` (unknown ids are skipped) to `out`.
  void decode(const std::vector<tokenize::token_id>& ids, std::string& out) const;

  /// Number of distinct pieces (words with and without a leading space, and ".").
  std::size_t vocabulary_size() const noexcept { return pieces_.size(); }

 private:
  struct entry {
    tokenize::token_id id;
    std::string text;
  };
  std::vector<entry> pieces_;        // sorted by id for lookup
  std::vector<tokenize::token_id> bare_, spaced_;  // word i without / with its leading space
  tokenize::token_id period_ = 0;
};

}  // namespace planetserve::sim
