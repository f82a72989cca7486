// SPDX-License-Identifier: MIT
// Compiled body of tokenize::added_tokens_tokenizer.
#pragma once

#include <planetserve/tokenize/added_tokens_tokenizer.hpp>

#include <stdexcept>

namespace planetserve::tokenize {

added_tokens_tokenizer::added_tokens_tokenizer(std::shared_ptr<const tokenizer> inner, added_token_matcher added,
                                               std::vector<token_id> prefix)
    : inner_(std::move(inner)), added_(std::move(added)), prefix_(std::move(prefix)) {
  if (!inner_) throw std::invalid_argument("added_tokens_tokenizer: no inner tokenizer");
}

void added_tokens_tokenizer::encode(std::string_view text, std::vector<token_id>& out) const {
  std::size_t pos = 0;
  while (auto m = added_.find(text, pos)) {
    if (m->begin > pos) inner_->encode(text.substr(pos, m->begin - pos), out);
    out.push_back(added_.id(m->index));
    pos = m->end;
  }
  if (pos < text.size()) inner_->encode(text.substr(pos), out);
}

}  // namespace planetserve::tokenize
