// SPDX-License-Identifier: MIT
// Compiled body of sim::render_llama3_chat and the emulator's default prompt tokenizer.
#pragma once

#include <planetserve/sim/chat_template.hpp>
#include <planetserve/tokenize/added_tokens_tokenizer.hpp>
#include <planetserve/tokenize/approx_tokenizer.hpp>

#include <string_view>

namespace planetserve::sim {

tokenize::added_token_matcher llama3_special_tokens::matcher() {
  tokenize::added_token_matcher m;
  m.add("<|begin_of_text|>", begin_of_text);
  m.add("<|end_of_text|>", end_of_text);
  m.add("<|start_header_id|>", start_header_id);
  m.add("<|end_header_id|>", end_header_id);
  m.add("<|eom_id|>", eom_id);
  m.add("<|eot_id|>", eot_id);
  m.add("<|python_tag|>", python_tag);
  return m;
}

namespace detail {

// Jinja's `trim` is Python's str.strip(): white space at both ends (ASCII, NEL and the
// Unicode spaces most often met; the rest are rare in prompts).
inline std::string_view jinja_trim(std::string_view s) {
  auto space_at_front = [](std::string_view v) -> std::size_t {
    if (v.empty()) return 0;
    const auto c = static_cast<unsigned char>(v.front());
    if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
    if (v.substr(0, 2) == "\xC2\x85" || v.substr(0, 2) == "\xC2\xA0") return 2;
    if (v.substr(0, 3) == "\xE3\x80\x80") return 3;
    return 0;
  };
  auto space_at_back = [](std::string_view v) -> std::size_t {
    if (v.empty()) return 0;
    const auto c = static_cast<unsigned char>(v.back());
    if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
    if (v.size() >= 2 && (v.substr(v.size() - 2) == "\xC2\x85" || v.substr(v.size() - 2) == "\xC2\xA0")) return 2;
    if (v.size() >= 3 && v.substr(v.size() - 3) == "\xE3\x80\x80") return 3;
    return 0;
  };
  while (std::size_t n = space_at_front(s)) s.remove_prefix(n);
  while (std::size_t n = space_at_back(s)) s.remove_suffix(n);
  return s;
}

}  // namespace detail

std::string render_llama3_chat(const std::vector<workload::chat_message>& messages, bool add_generation_prompt,
                               std::pair<std::size_t, std::size_t>* last_content) {
  std::string out = "<|begin_of_text|>";
  auto turn = [&](std::string_view role, std::string_view head, std::string_view content) {
    out += "<|start_header_id|>";
    out += role;
    out += "<|end_header_id|>\n\n";
    out += head;
    const std::size_t at = out.size();
    out += content;
    if (last_content) *last_content = {at, content.size()};
    out += "<|eot_id|>";
  };
  // Llama 3.1's template always opens with a system turn carrying these two lines; a first
  // system message is appended to it.
  constexpr std::string_view dates = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";
  std::size_t first = 0;
  std::string_view system;
  if (!messages.empty() && messages.front().role == "system") {
    system = detail::jinja_trim(messages.front().content);
    first = 1;
  }
  turn("system", dates, system);
  for (std::size_t i = first; i < messages.size(); ++i)
    turn(messages[i].role, {}, detail::jinja_trim(messages[i].content));
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::vector<tokenize::token_id> llama3_chat_prompt(const std::vector<workload::chat_message>& messages,
                                                   const tokenize::tokenizer& tok, bool add_generation_prompt) {
  return tok.encode(render_llama3_chat(messages, add_generation_prompt));
}

std::shared_ptr<const tokenize::tokenizer> default_prompt_tokenizer() {
  return std::make_shared<tokenize::added_tokens_tokenizer>(std::make_shared<tokenize::approx_tokenizer>(),
                                                            llama3_special_tokens::matcher());
}

}  // namespace planetserve::sim
