// SPDX-License-Identifier: MIT
// sim::chat_template: chat messages -> the prompt text a model's chat template gives (Llama 3, ChatML), and its ids.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/tokenize/added_token_matcher.hpp>
#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/chat_message.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
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

/// Qwen 2's special token ids (Qwen 2, 2.5 and 3 share them).
struct qwen2_special_tokens {
  static constexpr tokenize::token_id endoftext = 151643;  ///< <|endoftext|>
  static constexpr tokenize::token_id im_start = 151644;   ///< <|im_start|>
  static constexpr tokenize::token_id im_end = 151645;     ///< <|im_end|>

  /// Those tokens, by their text.
  static tokenize::added_token_matcher matcher();
};

/// The chat-template shapes the emulator renders with its own code (there is no Jinja engine).
enum class chat_template_shape : std::uint8_t {
  /// Llama 3: BOS, then `<|start_header_id|>role<|end_header_id|>\n\n` + trimmed content +
  /// `<|eot_id|>` per message; Llama 3.1's adds a system turn with knowledge-date lines.
  llama3,
  /// ChatML as Qwen 2.5 writes it: `<|im_start|>role\n` + content + `<|im_end|>\n` per
  /// message, a default system message when the conversation has none, no BOS.
  chatml,
};

/// A chat template as the emulator applies it: its shape and what the template text fixes.
struct chat_template {
  chat_template_shape shape = chat_template_shape::llama3;  ///< which renderer
  /// llama3: a system turn is always written, opening with `system_preamble` (Llama 3.1's
  /// template); false: only the messages' own turns (Llama 3.0's).
  bool always_system = true;
  /// llama3: the text the system turn opens with (Llama 3.1: the knowledge-date lines).
  std::string system_preamble = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";
  /// chatml: the system message of a conversation that has none (empty: no system turn).
  std::string default_system;

  /// Llama 3.1's template (the emulator's default).
  static chat_template llama3_1() { return {}; }

  /// The text vLLM hands the tokenizer for `messages` under this template (tools aside).
  /// `last_content`, when given, gets the offset and length of the last message's content.
  std::string render(const std::vector<workload::chat_message>& messages, bool add_generation_prompt = true,
                     std::pair<std::size_t, std::size_t>* last_content = nullptr) const;

  /// The template's special tokens with their ids (Llama 3's or Qwen 2's), so that a
  /// tokenizer without a tokenizer.json still reads each as one id.
  tokenize::added_token_matcher special_tokens() const;
};

/// Recognises the shape of a Jinja chat template from its text (a tokenizer_config.json's
/// `chat_template`) and reads what it fixes (Llama 3.1's dates, ChatML's default system
/// message). Fails with error::invalid_argument, `diag` naming `source`, the supported
/// shapes and what to do, for any other template.
result<chat_template> parse_chat_template(std::string_view text, std::string_view source, diagnostics& diag);

/// Reads `chat_template` from a tokenizer_config.json (a string, or a list of {name,
/// template} of which the one named "default"). Errors name the file and the field.
result<chat_template> load_chat_template(const std::filesystem::path& tokenizer_config, diagnostics& diag);

/// default_prompt_tokenizer() for `tpl`: the approximate tokenizer with the template's special tokens.
std::shared_ptr<const tokenize::tokenizer> default_prompt_tokenizer(const chat_template& tpl);

/// A completions prompt as vLLM tokenizes it (for /v1/completions and /tokenize, special
/// tokens on): the tokenizer's BOS, then the text. Appends to `out`.
void encode_completion_prompt(const tokenize::tokenizer& tok, std::string_view text, std::vector<tokenize::token_id>& out);

/// The ids a node with template `tpl` and tokenizer `tok` computes for a prompt, appended to
/// `out`: for the chat API (`chat`) the `messages` rendered with the template (none: `text` as
/// one user turn), for the completions API encode_completion_prompt of `text`. What a router
/// routes on to see the nodes' own blocks.
void encode_node_prompt(const chat_template& tpl, const tokenize::tokenizer& tok, bool chat,
                        const std::vector<workload::chat_message>& messages, std::string_view text,
                        std::vector<tokenize::token_id>& out);

}  // namespace planetserve::sim
