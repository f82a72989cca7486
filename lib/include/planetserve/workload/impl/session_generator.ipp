// SPDX-License-Identifier: MIT
// Compiled body of the conversation generator.
#pragma once

#include <planetserve/workload/generator.hpp>
#include <planetserve/workload/impl/generator.ipp>
#include <planetserve/workload/rng.hpp>
#include <planetserve/workload/session_generator.hpp>

#include <string>

namespace planetserve::workload {

result<std::vector<session>> generate_sessions(const session_generator_config& c, diagnostics& diag) {
  auto fail = [&](std::string why) -> result<std::vector<session>> {
    diag.message = "session generator: " + std::move(why);
    return make_error_code(error::invalid_argument);
  };
  if (c.sessions == 0) return fail("sessions must be at least 1");
  if (c.sessions > max_generated_prompts)
    return fail("sessions must be at most " + std::to_string(max_generated_prompts));
  if (c.min_turns == 0) return fail("every conversation needs at least 1 turn");
  if (c.max_turns > 10'000) return fail("turns must be at most 10000 per conversation");
  if (c.min_turns > c.max_turns) return fail("the turn range is empty (min above max)");
  if (c.min_user_tokens == 0 || c.min_reply_tokens == 0) return fail("message lengths must be at least 1 token");
  if (c.min_user_tokens > c.max_user_tokens) return fail("the user message range is empty (min above max)");
  if (c.min_reply_tokens > c.max_reply_tokens) return fail("the reply range is empty (min above max)");
  if (c.max_user_tokens > max_generated_tokens || c.max_reply_tokens > max_generated_tokens ||
      c.system_tokens > max_generated_tokens)
    return fail("lengths must be at most " + std::to_string(max_generated_tokens) + " tokens");

  std::string system;
  if (c.system_tokens) {
    // Its own stream, so the conversations do not change when only the system length does.
    rng sr(detail::group_seed(c.seed, 7, 0));
    detail::text_maker m(sr);
    system = "You are a helpful assistant. " + m.sentences(detail::prose_templates, c.system_tokens);
  }
  rng r(c.seed);
  detail::text_maker m(r);
  std::vector<session> out(c.sessions);
  for (std::size_t i = 0; i < c.sessions; ++i) {
    session& s = out[i];
    s.id = "s" + std::to_string(i + 1);
    s.system = system;
    s.turns.resize(r.between(c.min_turns, c.max_turns));
    for (std::size_t k = 0; k < s.turns.size(); ++k) {
      // A question first, then context: the user's message looks like one.
      const std::size_t user = r.between(c.min_user_tokens, c.max_user_tokens);
      std::string u = m.sentence(detail::request_templates);
      const std::size_t have = m.tokens(u);
      if (have < user) u += " " + m.sentences(detail::prose_templates, user - have);
      s.turns[k].user = std::move(u);
      const std::size_t reply = r.between(c.min_reply_tokens, c.max_reply_tokens);
      if (k + 1 < s.turns.size() || c.reply_last_turn)
        s.turns[k].assistant = m.sentences(detail::prose_templates, reply);
    }
  }
  return out;
}

}  // namespace planetserve::workload
