// SPDX-License-Identifier: MIT
// dispatch::request_view: what a policy sees of a request: its pre-tokenized prompt.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>

#include <cstdint>
#include <span>

namespace planetserve::dispatch {

/// A request as the policy sees it. The prompt is tokenized before the run (approximate
/// tokenizer, or the server's POST /tokenize for exact ids), so deciding never tokenizes.
struct request_view {
  std::span<const tokenize::token_id> tokens;  ///< the prompt's token ids; not copied, must outlive the call
  std::uint64_t id = 0;                        ///< the caller's request id (for its own bookkeeping)
  std::uint64_t session = 0;                   ///< the request's conversation (session_key of its id); 0: none
};

}  // namespace planetserve::dispatch
