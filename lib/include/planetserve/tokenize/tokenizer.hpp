// SPDX-License-Identifier: MIT
// planetserve::tokenize::tokenizer: the interface that turns prompt text into token ids.
#pragma once

#include <cstdint>
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

  /// The ids of `text`.
  std::vector<token_id> encode(std::string_view text) const {
    std::vector<token_id> out;
    encode(text, out);
    return out;
  }
};

}  // namespace planetserve::tokenize
