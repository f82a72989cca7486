// SPDX-License-Identifier: MIT
// sim::llama3_chat_prompt: chat messages -> prompt token ids, laid out as Llama 3.1's chat template.
#pragma once

#include <planetserve/tokenize/approx_tokenizer.hpp>

#include <string>
#include <vector>

namespace planetserve::sim {

/// One chat message as the OpenAI API carries it (text content only).
struct chat_message {
  std::string role;     ///< "system", "user", "assistant" or "tool"
  std::string content;  ///< the message text
};

/// Llama 3's special token ids (tokenizer_config.json of meta-llama/Llama-3.1-8B-Instruct).
struct llama3_special_tokens {
  static constexpr tokenize::token_id begin_of_text = 128000;
  static constexpr tokenize::token_id start_header_id = 128006;
  static constexpr tokenize::token_id end_header_id = 128007;
  static constexpr tokenize::token_id eot_id = 128009;
};

/// The prompt vLLM would build for `messages` with Llama 3.1's template: begin_of_text,
/// then per message start_header_id, role, end_header_id, "\n\n", content, eot_id; a
/// system message is always present and starts with the template's knowledge-date header;
/// with `add_generation_prompt` an open assistant header ends the prompt. Special tokens
/// are single ids, text goes through `tok`, so every turn of a conversation extends the
/// previous turn's ids (prefix caching sees the shared history).
std::vector<tokenize::token_id> llama3_chat_prompt(const std::vector<chat_message>& messages,
                                                   const tokenize::approx_tokenizer& tok,
                                                   bool add_generation_prompt = true);

}  // namespace planetserve::sim
