// SPDX-License-Identifier: MIT
// approx_tokenizer: a model-free tokenizer, about 4 bytes per token on English, prefix-stable.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>

#include <cstddef>
#include <cstdint>

namespace planetserve::tokenize {

/// Settings of the approximate tokenizer.
struct approx_tokenizer_config {
  std::size_t max_piece_bytes = 4;     ///< longest run of bytes one token covers
  std::uint32_t vocab_size = 128'256;  ///< ids fall in [0, vocab_size) (Llama-3's vocabulary)
  std::uint64_t seed = 0;              ///< different seeds give different ids for the same text
};

/// Splits text into words (a word keeps its one leading space, as BPE vocabularies do),
/// punctuation and whitespace runs, then cuts each into pieces of at most
/// `max_piece_bytes`; a piece's id is a hash of its bytes. A token never spans a word
/// boundary, so the ids of a text that ends where a word ends are exactly a prefix of the
/// ids of any longer text that starts with it; a cut inside a word changes only the last id.
class approx_tokenizer final : public tokenizer {
 public:
  explicit approx_tokenizer(approx_tokenizer_config config = {});

  using tokenizer::encode;
  void encode(std::string_view text, std::vector<token_id>& out) const override;

  /// About how many tokens `text` has, without producing them.
  std::size_t count(std::string_view text) const;

  const approx_tokenizer_config& config() const noexcept { return config_; }

 private:
  approx_tokenizer_config config_;
};

}  // namespace planetserve::tokenize
