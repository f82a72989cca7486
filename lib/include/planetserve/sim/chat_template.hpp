// SPDX-License-Identifier: MIT
// sim::render_llama3_chat: chat messages -> the prompt text Llama 3.1's chat template gives, and its ids.
#pragma once

#include <planetserve/tokenize/added_token_matcher.hpp>
#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/chat_message.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace planetserve::sim {


/// Llama 3's special token ids (tokenizer.json of meta-llama/Llama-3.1-8B-Instruct).
struct llama3_special_tokens {
  static constexpr tokenize::token_id begin_of_text = 128000;  ///< <|begin_of_text|>
  static constexpr tokenize::token_id end_of_text = 128001;  ///< <|end_of_text|>
  static constexpr tokenize::token_id start_header_id = 128006;  ///< <|start_header_id|>
  static constexpr tokenize::token_id end_header_id = 128007;  ///< <|end_header_id|>
  static constexpr tokenize::token_id eom_id = 128008;  ///< <|eom_id|>
  static constexpr tokenize::token_id eot_id = 128009;  ///< <|eot_id|>
  static constexpr tokenize::token_id python_tag = 128010;  ///< <|python_tag|>

  /// Those tokens, by their text, for tokenizers without a tokenizer.json.
  static tokenize::added_token_matcher matcher();
};

/// The text vLLM hands the tokenizer for `messages` under Llama 3.1's chat template (tools
/// aside): `<|begin_of_text|>`, a system turn that always opens with the template's
/// knowledge-date lines (so every chat prompt shares its first blocks), then per message
/// `<|start_header_id|>role<|end_header_id|>\n\n` + content (trimmed) + `<|eot_id|>`, and
/// with `add_generation_prompt` an open assistant header. `last_content`, when given, gets
/// the offset and length of the last message's content in the result.
std::string render_llama3_chat(const std::vector<workload::chat_message>& messages, bool add_generation_prompt = true,
                               std::pair<std::size_t, std::size_t>* last_content = nullptr);

/// The ids of `render_llama3_chat(messages, add_generation_prompt)` under `tok`, which must
/// know the special tokens (a tokenizer.json's, or `default_prompt_tokenizer()`), so each is a
/// single id and every turn of a conversation extends the previous turn's ids.
std::vector<tokenize::token_id> llama3_chat_prompt(const std::vector<workload::chat_message>& messages,
                                                   const tokenize::tokenizer& tok, bool add_generation_prompt = true);

/// The emulator's tokenizer when no tokenizer.json is given: the approximate tokenizer, with
/// Llama 3's special tokens as their real single ids.
std::shared_ptr<const tokenize::tokenizer> default_prompt_tokenizer();

}  // namespace planetserve::sim
