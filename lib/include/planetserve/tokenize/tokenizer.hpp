// SPDX-License-Identifier: MIT
// planetserve::tokenize::tokenizer: the interface that turns prompt text into token ids.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace planetserve::tokenize {

/// A token id, as a server's tokenizer would return it.
using token_id = std::uint32_t;

/// Turns text into token ids. Implementations are deterministic: the same text always
/// gives the same ids, so equal prompt prefixes give equal id prefixes.
class tokenizer {
 public:
  virtual ~tokenizer() = default;

  /// Appends the ids of `text` to `out`.
  virtual void encode(std::string_view text, std::vector<token_id>& out) const = 0;

  /// The ids a server puts before a prompt it tokenizes with special tokens (a BOS such as
  /// Llama 3's `<|begin_of_text|>`, from tokenizer.json's post-processor); none by default.
  virtual std::span<const token_id> prefix_ids() const noexcept { return {}; }

  /// The ids of `text`.
  std::vector<token_id> encode(std::string_view text) const {
    std::vector<token_id> out;
    encode(text, out);
    return out;
  }
};

}  // namespace planetserve::tokenize
