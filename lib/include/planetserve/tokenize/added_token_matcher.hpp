// SPDX-License-Identifier: MIT
// tokenize::added_token_matcher: finds a tokenizer's added (special) tokens in text, leftmost-longest.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::tokenize {

/// One occurrence of an added token in a text.
struct added_token_match {
  std::size_t begin = 0;  ///< byte offset of the token's first byte
  std::size_t end = 0;    ///< byte offset one past its last byte
  std::size_t index = 0;  ///< which added token (the order of `add`)
};

/// Added tokens (`<|eot_id|>`, `<|im_start|>`, ...) are matched in the raw text before any
/// pre-tokenization and each becomes a single id, as Hugging Face tokenizers do: scanning
/// left to right, at each position the longest token that starts there wins.
class added_token_matcher {
 public:
  /// Registers `content` (non-empty) with `id`; returns its index.
  std::size_t add(std::string content, token_id id);

  /// The first match at or after `from`, if any.
  std::optional<added_token_match> find(std::string_view text, std::size_t from) const;

  /// The index of the token whose content is exactly `content`.
  std::optional<std::size_t> index_of(std::string_view content) const;

  /// Added token `index`'s id.
  token_id id(std::size_t index) const { return tokens_[index].id; }
  /// Added token `index`'s text.
  const std::string& content(std::size_t index) const { return tokens_[index].content; }
  /// Number of added tokens.
  std::size_t size() const noexcept { return tokens_.size(); }
  /// Whether there are none.
  bool empty() const noexcept { return tokens_.empty(); }

 private:
  struct entry {
    std::string content;
    token_id id;
  };
  // A byte trie: node i's children are a sorted run of edges; `token` is the index of the
  // token ending there, or npos.
  struct edge {
    unsigned char byte;
    std::uint32_t child;
  };
  struct node {
    std::vector<edge> edges;
    std::size_t token = static_cast<std::size_t>(-1);
  };
  std::uint32_t child(std::uint32_t n, unsigned char b) const;

  std::vector<entry> tokens_;
  std::vector<node> nodes_{node{}};
  bool first_byte_[256] = {};
};

}  // namespace planetserve::tokenize
