// SPDX-License-Identifier: MIT
// Compiled body of tokenize::added_token_matcher.
#pragma once

#include <planetserve/tokenize/added_token_matcher.hpp>

#include <algorithm>
#include <cstring>

namespace planetserve::tokenize {

std::uint32_t added_token_matcher::child(std::uint32_t n, unsigned char b) const {
  const auto& es = nodes_[n].edges;
  auto it = std::lower_bound(es.begin(), es.end(), b, [](const edge& e, unsigned char v) { return e.byte < v; });
  return it != es.end() && it->byte == b ? it->child : 0;  // the root is never a child
}

std::size_t added_token_matcher::add(std::string content, token_id id) {
  const std::size_t index = tokens_.size();
  std::uint32_t n = 0;
  for (char ch : content) {
    const auto b = static_cast<unsigned char>(ch);  // explicit: clang's implicit-conversion check
    std::uint32_t c = child(n, b);
    if (c == 0) {
      c = static_cast<std::uint32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& es = nodes_[n].edges;
      es.insert(std::lower_bound(es.begin(), es.end(), b, [](const edge& e, unsigned char v) { return e.byte < v; }),
                edge{b, c});
    }
    n = c;
  }
  // A repeated content takes the later id, as the reference's content -> token map does.
  if (n != 0) nodes_[n].token = index;
  if (!content.empty()) first_byte_[static_cast<unsigned char>(content[0])] = true;
  tokens_.push_back(entry{std::move(content), id});
  return index;
}

std::optional<added_token_match> added_token_matcher::find(std::string_view text, std::size_t from) const {
  if (tokens_.empty()) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = from; i < text.size(); ++i) {
    if (!first_byte_[p[i]]) continue;
    std::uint32_t n = 0;
    std::optional<added_token_match> best;
    for (std::size_t j = i; j < text.size(); ++j) {
      n = child(n, p[j]);
      if (n == 0) break;
      if (nodes_[n].token != static_cast<std::size_t>(-1)) best = added_token_match{i, j + 1, nodes_[n].token};
    }
    if (best) return best;
  }
  return std::nullopt;
}

std::optional<std::size_t> added_token_matcher::index_of(std::string_view content) const {
  std::uint32_t n = 0;
  for (char ch : content) {
    n = child(n, static_cast<unsigned char>(ch));
    if (n == 0) return std::nullopt;
  }
  if (n == 0 || nodes_[n].token == static_cast<std::size_t>(-1)) return std::nullopt;
  return nodes_[n].token;
}

}  // namespace planetserve::tokenize
