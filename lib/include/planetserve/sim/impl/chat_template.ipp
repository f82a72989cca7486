// SPDX-License-Identifier: MIT
// Compiled body of sim::llama3_chat_prompt.
#pragma once

#include <planetserve/sim/chat_template.hpp>

namespace planetserve::sim {

std::vector<tokenize::token_id> llama3_chat_prompt(const std::vector<chat_message>& messages,
                                                   const tokenize::approx_tokenizer& tok,
                                                   bool add_generation_prompt) {
  using st = llama3_special_tokens;
  std::vector<tokenize::token_id> out;
  out.push_back(st::begin_of_text);
  auto turn = [&](const std::string& role, const std::string& content) {
    out.push_back(st::start_header_id);
    tok.encode(role, out);
    out.push_back(st::end_header_id);
    tok.encode("\n\n" + content, out);
    out.push_back(st::eot_id);
  };
  // Llama 3.1's template always opens with a system turn carrying these two lines.
  std::string system = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";
  std::size_t first = 0;
  if (!messages.empty() && messages.front().role == "system") {
    system += messages.front().content;
    first = 1;
  }
  turn("system", system);
  for (std::size_t i = first; i < messages.size(); ++i) turn(messages[i].role, messages[i].content);
  if (add_generation_prompt) {
    out.push_back(st::start_header_id);
    tok.encode("assistant", out);
    out.push_back(st::end_header_id);
    tok.encode("\n\n", out);
  }
  return out;
}

}  // namespace planetserve::sim
