// SPDX-License-Identifier: MIT
// approx_tokenizer: a model-free tokenizer, calibrated to Llama 3's token counts, prefix-stable.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>

#include <cstddef>
#include <cstdint>

namespace planetserve::tokenize {

/// Settings of the approximate tokenizer.
/// The piece widths are fitted so that counts are within 10% of Llama 3's on English prose,
/// code, JSON and every shipped dataset (README, "Tokens"; the test `tokenizer_agreement`
/// checks it with the real tokenizer).
struct approx_tokenizer_config {
  std::size_t word_piece_bytes = 9;    ///< longest run of a word's bytes one token covers
  std::size_t digit_piece_bytes = 3;   ///< digits per token (Llama 3 groups numbers by three)
  std::size_t punct_piece_bytes = 3;   ///< punctuation bytes per token
  std::size_t space_piece_bytes = 2;   ///< white-space bytes per token
  std::uint32_t vocab_size = 128'256;  ///< ids fall in [0, vocab_size) (Llama-3's vocabulary)
  std::uint64_t seed = 0;              ///< different seeds give different ids for the same text
};

/// Splits text the way Llama 3's pre-tokenizer does, roughly: words (letters, and bytes of
/// multi-byte characters, led by at most one other character: a space, a quote, a dot),
/// digit runs, punctuation runs (with one leading space and the line ends after them) and
/// white-space runs (whose last space leads what follows); then cuts each into pieces of
/// the class's width. A piece's id is a hash of its bytes. A token never spans a word
/// boundary, so the ids of a text that ends where a word ends are exactly a prefix of the
/// ids of any longer text that starts with it; a cut inside a word changes only the last id.
class approx_tokenizer final : public tokenizer {
 public:
  /// A tokenizer with `config`'s piece widths and seed. Throws std::invalid_argument for a
  /// piece width or vocab_size of 0.
  explicit approx_tokenizer(approx_tokenizer_config config = {});

  using tokenizer::encode;
  void encode(std::string_view text, std::vector<token_id>& out) const override;

  /// About how many tokens `text` has, without producing them.
  std::size_t count(std::string_view text) const;

  /// The settings it was made with.
  const approx_tokenizer_config& config() const noexcept { return config_; }

 private:
  approx_tokenizer_config config_;
};

}  // namespace planetserve::tokenize
