// SPDX-License-Identifier: MIT
// tokenize::bpe_tokenizer: a Hugging Face tokenizer.json with byte-level BPE (Llama 3, Qwen 2.5, DeepSeek distills).
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/tokenize/tokenizer.hpp>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace planetserve::tokenize {

/// How a byte-level vocabulary spells `raw` bytes (GPT-2's alphabet: `" the"` is `"Ġthe"`).
std::string byte_level_spelling(std::string_view raw);

/// The model of a `tokenizer.json` as Hugging Face's tokenizers (and transformers.js) run
/// it: added tokens are matched in the raw text first and become single ids; the rest goes
/// through the pre-tokenizer (`Split` by regex, `ByteLevel`, or a `Sequence` of them), and
/// each piece's UTF-8 bytes are merged by rank (BPE) into vocabulary ids, with
/// `ignore_merges` (a piece that is itself in the vocabulary is one id) and `byte_fallback`.
/// Invalid UTF-8 in the text is read as U+FFFD first, as the reference decodes bytes.
///
/// `encode` gives the ids of the text alone, like `add_special_tokens=False`;
/// `prefix_ids` are what the post-processor puts in front (Llama 3's `<|begin_of_text|>`).
/// Merging is cached per piece; `encode` takes a lock, so one instance may be shared by
/// threads (which then take turns).
class bpe_tokenizer final : public tokenizer {
 public:
  /// Reads and checks `file`. Unsupported kinds (WordPiece, Unigram, BPE that is not
  /// byte-level, normalizers) and broken files fail with the file, the field and what is
  /// supported in `diag`.
  static result<std::shared_ptr<const bpe_tokenizer>> load(const std::filesystem::path& file, diagnostics& diag);

  /// As `load`, from the file's text; `source` names it in messages.
  static result<std::shared_ptr<const bpe_tokenizer>> parse(std::string_view json, std::string_view source,
                                                            diagnostics& diag);

  ~bpe_tokenizer() override;
  bpe_tokenizer(const bpe_tokenizer&) = delete;
  bpe_tokenizer& operator=(const bpe_tokenizer&) = delete;

  using tokenizer::encode;
  void encode(std::string_view text, std::vector<token_id>& out) const override;

  /// The id of an added token's content (`<|eot_id|>`), else of a vocabulary entry as the
  /// file spells it (byte-level form, `Ġthe`).
  std::optional<token_id> token_to_id(std::string_view token) const;

  /// The ids the post-processor's single-sequence template puts before the text.
  std::span<const token_id> prefix_ids() const noexcept override;

  /// One more than the largest id in the vocabulary and added tokens.
  std::size_t vocab_size() const noexcept;

  /// Whether the pre-tokenizer regexes run JIT-compiled.
  bool jit() const noexcept;

 private:
  struct impl;
  explicit bpe_tokenizer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace planetserve::tokenize
