// SPDX-License-Identifier: MIT
// session_generator: synthetic multi-turn conversations (pswm gen --kind multiturn).
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/workload/session.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace planetserve::workload {

/// Settings of the conversation generator. Lengths are in generator units (see
/// generator_config: about 1.6 units per Llama 3 token); each range is drawn uniformly.
struct session_generator_config {
  std::size_t sessions = 100;               ///< how many conversations
  std::uint64_t seed = 1;                   ///< same seed, same bytes, on every machine
  std::size_t min_turns = 2;                ///< fewest user turns per conversation
  std::size_t max_turns = 6;                ///< most user turns per conversation (uniform in between)
  std::size_t min_user_tokens = 20;         ///< shortest user message
  std::size_t max_user_tokens = 80;         ///< longest user message
  std::size_t min_reply_tokens = 50;        ///< shortest assistant reply
  std::size_t max_reply_tokens = 200;       ///< longest assistant reply
  std::size_t system_tokens = 0;            ///< one system prompt of about this length shared by every conversation; 0: none
  bool reply_last_turn = false;             ///< give the last turn a reply too (a run never sends it; stats count it as output)
};

/// The conversations, ids "s1", "s2", ... Fails with invalid_argument (why in `diag`) for 0
/// sessions or turns, a min above its max, or values over the max_generated_* bounds.
result<std::vector<session>> generate_sessions(const session_generator_config& config, diagnostics& diag);

}  // namespace planetserve::workload
