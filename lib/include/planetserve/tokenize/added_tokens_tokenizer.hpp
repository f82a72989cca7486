// SPDX-License-Identifier: MIT
// tokenize::added_tokens_tokenizer: another tokenizer plus added tokens that become single ids.
#pragma once

#include <planetserve/tokenize/added_token_matcher.hpp>
#include <planetserve/tokenize/tokenizer.hpp>

#include <memory>
#include <vector>

namespace planetserve::tokenize {

/// Each occurrence of an added token (leftmost-longest) is its one id; the text between goes
/// to `inner`. This gives the model-free approximate tokenizer a chat template's special
/// tokens (`<|eot_id|>` ...) as single ids, as a real tokenizer.json has them.
class added_tokens_tokenizer final : public tokenizer {
 public:
  /// Text between added tokens goes to `inner`; `prefix` is what prefix_ids() returns (a BOS).
  /// Throws std::invalid_argument for a null `inner`.
  added_tokens_tokenizer(std::shared_ptr<const tokenizer> inner, added_token_matcher added,
                         std::vector<token_id> prefix = {});

  using tokenizer::encode;
  void encode(std::string_view text, std::vector<token_id>& out) const override;
  std::span<const token_id> prefix_ids() const noexcept override { return prefix_; }

 private:
  std::shared_ptr<const tokenizer> inner_;
  added_token_matcher added_;
  std::vector<token_id> prefix_;
};

}  // namespace planetserve::tokenize
