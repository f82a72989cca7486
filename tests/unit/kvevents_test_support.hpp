// SPDX-License-Identifier: MIT
// Helpers shared by the KV-event tests.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>

#include <cstddef>
#include <numeric>
#include <vector>

namespace kvevents_test {

// `n` consecutive token ids from `first`: distinct blocks, easy to reason about.
inline std::vector<planetserve::tokenize::token_id> iota_tokens(std::size_t n, planetserve::tokenize::token_id first) {
  std::vector<planetserve::tokenize::token_id> t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

}  // namespace kvevents_test
