// SPDX-License-Identifier: MIT
// Compiled body of sim::chat_template (Llama 3 and ChatML rendering, template recognition) and the default prompt tokenizer.
#pragma once

#include <planetserve/sim/chat_template.hpp>
#include <planetserve/tokenize/added_tokens_tokenizer.hpp>
#include <planetserve/tokenize/approx_tokenizer.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <fstream>
#include <sstream>
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

namespace detail {

// Llama 3's shape; `preamble` opens an always-written system turn (Llama 3.1) unless
// `always_system` is false (Llama 3.0: only the messages' own turns).
inline std::string render_llama3(const std::vector<workload::chat_message>& messages, bool add_generation_prompt,
                                 std::pair<std::size_t, std::size_t>* last_content, bool always_system,
                                 std::string_view preamble) {
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
  std::size_t first = 0;
  if (always_system) {
    // Llama 3.1's template always opens with a system turn carrying the preamble; a first
    // system message is appended to it.
    std::string_view system;
    if (!messages.empty() && messages.front().role == "system") {
      system = jinja_trim(messages.front().content);
      first = 1;
    }
    turn("system", preamble, system);
  }
  for (std::size_t i = first; i < messages.size(); ++i) turn(messages[i].role, {}, jinja_trim(messages[i].content));
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// ChatML as Qwen 2.5's template writes it: contents as sent (no trim), a default system
// turn when the conversation opens without one.
inline std::string render_chatml(const std::vector<workload::chat_message>& messages, bool add_generation_prompt,
                                 std::pair<std::size_t, std::size_t>* last_content, std::string_view default_system) {
  std::string out;
  auto turn = [&](std::string_view role, std::string_view content) {
    out += "<|im_start|>";
    out += role;
    out += '\n';
    const std::size_t at = out.size();
    out += content;
    if (last_content) *last_content = {at, content.size()};
    out += "<|im_end|>\n";
  };
  if (!default_system.empty() && (messages.empty() || messages.front().role != "system")) turn("system", default_system);
  for (const auto& m : messages) turn(m.role, m.content);
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace detail

std::string render_llama3_chat(const std::vector<workload::chat_message>& messages, bool add_generation_prompt,
                               std::pair<std::size_t, std::size_t>* last_content) {
  return chat_template::llama3_1().render(messages, add_generation_prompt, last_content);
}

std::string chat_template::render(const std::vector<workload::chat_message>& messages, bool add_generation_prompt,
                                  std::pair<std::size_t, std::size_t>* last_content) const {
  if (shape == chat_template_shape::chatml)
    return detail::render_chatml(messages, add_generation_prompt, last_content, default_system);
  return detail::render_llama3(messages, add_generation_prompt, last_content, always_system, system_preamble);
}

tokenize::added_token_matcher chat_template::special_tokens() const {
  return shape == chat_template_shape::chatml ? qwen2_special_tokens::matcher() : llama3_special_tokens::matcher();
}

tokenize::added_token_matcher qwen2_special_tokens::matcher() {
  tokenize::added_token_matcher m;
  m.add("<|endoftext|>", endoftext);
  m.add("<|im_start|>", im_start);
  m.add("<|im_end|>", im_end);
  return m;
}

namespace detail {

// The text of a Jinja string literal starting at `at` (just after its opening quote), its
// escapes undone, up to `stop` or the closing `quote`, whichever comes first.
inline std::string jinja_literal(std::string_view t, std::size_t at, char quote, std::string_view stop) {
  std::string out;
  for (std::size_t i = at; i < t.size(); ++i) {
    if (t.substr(i, stop.size()) == stop || t[i] == quote) break;
    if (t[i] == '\\' && i + 1 < t.size()) {
      const char e = t[++i];
      out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      continue;
    }
    out += t[i];
  }
  return out;
}

// The opening quote of the literal that `at` is inside (searching back to the nearest quote).
inline char quote_before(std::string_view t, std::size_t at) {
  const auto q = t.find_last_of("'\"", at);
  return q == std::string_view::npos ? '\'' : t[q];
}

// Llama 3.1's system preamble as its template writes it: "Cutting Knowledge Date: ..." and
// "Today Date: " + date_string, whose default the template sets.
inline std::string llama31_preamble(std::string_view t) {
  const std::string_view kd = "Cutting Knowledge Date: ";
  const auto k = t.find(kd);
  std::string knowledge = jinja_literal(t, k + kd.size(), quote_before(t, k), "\\n");
  std::string date = "26 Jul 2024";
  for (std::string_view key : {"date_string = \"", "date_string = '"}) {
    if (auto d = t.find(key); d != std::string_view::npos) {
      date = jinja_literal(t, d + key.size(), key.back(), "\\n");
      break;
    }
  }
  return "Cutting Knowledge Date: " + knowledge + "\nToday Date: " + date + "\n\n";
}

// ChatML's default system message: a literal `<|im_start|>system\n` followed by text (not by
// the end of the literal, where the template appends the conversation's own system message).
inline std::string chatml_default_system(std::string_view t) {
  const std::string_view head = "<|im_start|>system\\n";
  for (auto at = t.find(head); at != std::string_view::npos; at = t.find(head, at + 1)) {
    const std::size_t body = at + head.size();
    if (body < t.size() && t[body] != '\'' && t[body] != '"')
      return jinja_literal(t, body, quote_before(t, at), "<|im_end|>");
  }
  return {};
}

}  // namespace detail

result<chat_template> parse_chat_template(std::string_view t, std::string_view source, diagnostics& diag) {
  auto has = [&](std::string_view s) { return t.find(s) != std::string_view::npos; };
  chat_template out;
  if (has("<|start_header_id|>") && has("<|end_header_id|>") && has("<|eot_id|>")) {
    out.shape = chat_template_shape::llama3;
    out.always_system = has("Cutting Knowledge Date: ");
    out.system_preamble = out.always_system ? detail::llama31_preamble(t) : std::string();
    return out;
  }
  if (has("<|im_start|>") && has("<|im_end|>")) {
    out.shape = chat_template_shape::chatml;
    out.default_system = detail::chatml_default_system(t);
    return out;
  }
  diag.message = std::string(source) +
                 ": chat_template is not a shape pswm sim renders (it has no Jinja engine); supported: Llama 3 "
                 "(<|start_header_id|>role<|end_header_id|> ... <|eot_id|>) and ChatML as Qwen 2.5 writes it "
                 "(<|im_start|>role\\n ... <|im_end|>). Give a tokenizer_config.json of one of those, or none for "
                 "Llama 3.1's template";
  return make_error_code(error::invalid_argument);
}

result<chat_template> load_chat_template(const std::filesystem::path& file, diagnostics& diag) {
  const std::string name = file.string();
  std::error_code fec;
  if (!std::filesystem::is_regular_file(file, fec)) {
    diag.message = name + ": no such file (expected a Hugging Face tokenizer_config.json)";
    return make_error_code(error::file_not_found);
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) {
    diag.message = name + ": could not be read";
    return make_error_code(error::file_unreadable);
  }
  boost::system::error_code jec;
  const boost::json::value root = boost::json::parse(ss.str(), jec);
  if (jec || !root.is_object()) {
    diag.message = name + ": not a JSON object (" + (jec ? jec.message() : std::string("wrong type")) +
                   "); expected a Hugging Face tokenizer_config.json";
    return make_error_code(error::invalid_json);
  }
  const auto* field = root.get_object().if_contains("chat_template");
  if (!field || field->is_null()) {
    diag.message = name + ": no chat_template field; give the tokenizer_config.json of a chat model";
    return make_error_code(error::missing_field);
  }
  if (field->is_string()) return parse_chat_template(field->get_string(), name + " (chat_template)", diag);
  if (field->is_array()) {
    // Named templates: the one named "default" is what vLLM applies.
    for (const auto& entry : field->get_array()) {
      const auto* o = entry.if_object();
      if (!o) continue;
      const auto* n = o->if_contains("name");
      const auto* tpl = o->if_contains("template");
      if (n && n->is_string() && n->get_string() == "default" && tpl && tpl->is_string())
        return parse_chat_template(tpl->get_string(), name + " (chat_template \"default\")", diag);
    }
    diag.message = name + ": chat_template is a list without a {\"name\": \"default\", \"template\": ...} entry";
    return make_error_code(error::missing_field);
  }
  diag.message = name + ": chat_template must be a string (the Jinja template) or a list of named templates";
  return make_error_code(error::wrong_field_type);
}

std::vector<tokenize::token_id> llama3_chat_prompt(const std::vector<workload::chat_message>& messages,
                                                   const tokenize::tokenizer& tok, bool add_generation_prompt) {
  return tok.encode(render_llama3_chat(messages, add_generation_prompt));
}

std::shared_ptr<const tokenize::tokenizer> default_prompt_tokenizer() {
  return default_prompt_tokenizer(chat_template::llama3_1());
}

std::shared_ptr<const tokenize::tokenizer> default_prompt_tokenizer(const chat_template& tpl) {
  return std::make_shared<tokenize::added_tokens_tokenizer>(std::make_shared<tokenize::approx_tokenizer>(),
                                                            tpl.special_tokens());
}

void encode_completion_prompt(const tokenize::tokenizer& tok, std::string_view text, std::vector<tokenize::token_id>& out) {
  const auto prefix = tok.prefix_ids();
  out.insert(out.end(), prefix.begin(), prefix.end());
  tok.encode(text, out);
}

void encode_node_prompt(const chat_template& tpl, const tokenize::tokenizer& tok, bool chat,
                        const std::vector<workload::chat_message>& messages, std::string_view text,
                        std::vector<tokenize::token_id>& out) {
  if (!chat) {
    encode_completion_prompt(tok, text, out);
    return;
  }
  tok.encode(messages.empty() ? tpl.render({{"user", std::string(text)}}) : tpl.render(messages), out);
}

}  // namespace planetserve::sim
