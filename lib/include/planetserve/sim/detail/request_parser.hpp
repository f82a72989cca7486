// SPDX-License-Identifier: MIT
// The emulator's request bodies (/v1/completions, /v1/chat/completions, /tokenize) read into what the engine needs, sans-io.
#pragma once

#include <planetserve/sim/chat_template.hpp>
#include <planetserve/sim/engine.hpp>
#include <planetserve/sim/node_server.hpp>
#include <planetserve/tokenize/tokenizer.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::sim::detail {

namespace njson = boost::json;

// A request refused with vLLM's status and message; `param` names the field.
struct request_error {
  unsigned status = 400;
  std::string message;
  std::string param;
};

// What a generation request asks for, once validated.
struct generation_request {
  std::vector<tokenize::token_id> prompt;
  sampling_params params;
  bool stream = false;
  bool include_usage = false;
  bool continuous_usage = false;
  std::uint64_t prompt_hash = 0;  // XXH3 of the prompt text (chat: last message), for the timing hook
};

inline bool read_int(const njson::value& v, std::int64_t& out) {
  if (v.is_int64()) {
    out = v.get_int64();
    return true;
  }
  if (v.is_uint64()) {
    out = v.get_uint64() > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(v.get_uint64());
    return true;
  }
  return false;
}

inline std::optional<request_error> type_error(std::string_view field, std::string_view expected) {
  return request_error{400, "Input should be " + std::string(expected) + " (field `" + std::string(field) + "`)",
                       std::string(field)};
}

inline std::optional<request_error> check_model(const njson::object& o, const node_config& cfg) {
  auto it = o.find("model");
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  if (!it->value().is_string()) return type_error("model", "a valid string");
  const auto& m = it->value().get_string();
  if (std::string_view(m.data(), m.size()) != cfg.served_model_name)
    return request_error{404, "The model `" + std::string(m.data(), m.size()) + "` does not exist.", "model"};
  return std::nullopt;
}

inline std::optional<request_error> read_token_list(const njson::array& a, std::string_view field,
                                                    std::vector<tokenize::token_id>& out) {
  out.reserve(a.size());
  for (const auto& t : a) {
    std::int64_t v = 0;
    if (!read_int(t, v) || v < 0 || v > 0xffffffffLL) return type_error(field, "a list of token ids (integers >= 0)");
    out.push_back(static_cast<tokenize::token_id>(v));
  }
  return std::nullopt;
}

inline std::optional<request_error> read_text_content(const njson::value& v, std::string& out) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) {
    out.append(v.get_string().data(), v.get_string().size());
    return std::nullopt;
  }
  if (!v.is_array()) return type_error("messages.content", "a string or a list of content parts");
  for (const auto& part : v.get_array()) {
    if (!part.is_object()) return type_error("messages.content", "a list of content parts");
    const auto& po = part.get_object();
    auto t = po.find("text");
    if (t == po.end() || !t->value().is_string()) return type_error("messages.content.text", "a valid string");
    out.append(t->value().get_string().data(), t->value().get_string().size());
  }
  return std::nullopt;
}

// The messages of a chat request, rendered as the served model's chat template does (`tpl`:
// Llama 3.1's unless --tokenizer-config), so that a conversation's prompt grows by appending.
// `last_content` gets the last message's content as sent (the timing hook's hash).
inline std::optional<request_error> render_chat(const njson::object& o, const chat_template& tpl, std::string& out,
                                               std::string* last_content = nullptr) {
  auto it = o.find("messages");
  if (it == o.end()) return request_error{400, "Field required (field `messages`)", "messages"};
  if (!it->value().is_array()) return type_error("messages", "a valid list");
  const auto& msgs = it->value().get_array();
  if (msgs.empty()) return request_error{400, "List should have at least 1 item (field `messages`)", "messages"};
  std::vector<workload::chat_message> messages;
  messages.reserve(msgs.size());
  for (const auto& m : msgs) {
    if (!m.is_object()) return type_error("messages", "a list of message objects");
    const auto& mo = m.get_object();
    auto role = mo.find("role");
    if (role == mo.end() || !role->value().is_string()) return type_error("messages.role", "a valid string");
    workload::chat_message cm;
    cm.role.assign(role->value().get_string().data(), role->value().get_string().size());
    if (auto c = mo.find("content"); c != mo.end())
      if (auto e = read_text_content(c->value(), cm.content)) return e;
    messages.push_back(std::move(cm));
  }
  if (last_content) *last_content = messages.back().content;
  out = tpl.render(messages);
  return std::nullopt;
}

inline std::optional<request_error> read_prompt(const njson::object& o, const tokenize::tokenizer& tok,
                                                std::vector<tokenize::token_id>& out) {
  auto it = o.find("prompt");
  if (it == o.end()) return request_error{400, "Field required (field `prompt`)", "prompt"};
  const auto& v = it->value();
  if (v.is_string()) {
    encode_completion_prompt(tok, std::string_view(v.get_string().data(), v.get_string().size()), out);
    return std::nullopt;
  }
  if (!v.is_array()) return type_error("prompt", "a string, a list of strings or a list of token ids");
  const auto& a = v.get_array();
  if (a.empty()) return request_error{400, "Prompt cannot be empty", "prompt"};
  if (a[0].is_string() || a[0].is_array()) {
    if (a.size() != 1)
      return request_error{400, "The emulator serves one prompt per request; got " + std::to_string(a.size()) + ".",
                           "prompt"};
    if (a[0].is_string()) {
      encode_completion_prompt(tok, std::string_view(a[0].get_string().data(), a[0].get_string().size()), out);
      return std::nullopt;
    }
    return read_token_list(a[0].get_array(), "prompt", out);
  }
  return read_token_list(a, "prompt", out);
}

inline std::optional<request_error> read_optional_count(const njson::object& o, std::string_view key,
                                                        std::optional<std::int64_t>& out) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  std::int64_t v = 0;
  if (!read_int(it->value(), v)) return type_error(key, "a valid integer");
  out = v;
  return std::nullopt;
}

inline std::optional<request_error> read_bool(const njson::object& o, std::string_view key, bool& out) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  if (!it->value().is_bool()) return type_error(key, "a valid boolean");
  out = it->value().get_bool();
  return std::nullopt;
}

// A body parsed into `doc` (with doc's memory resource): refused as vLLM does when it is not
// JSON or not an object.
inline std::optional<request_error> parse_object(std::string_view body, njson::value& doc) {
  boost::system::error_code ec;
  doc = njson::parse(body, ec, doc.storage());
  if (ec) return request_error{400, "JSON decode error: " + ec.message(), {}};
  if (!doc.is_object()) return request_error{400, "Input should be a valid dictionary or object", {}};
  return std::nullopt;
}

inline std::optional<request_error> parse_generation(std::string_view body, bool chat, const node_config& cfg,
                                                     const tokenize::tokenizer& tok, generation_request& out) {
  alignas(16) unsigned char buffer[4096];
  njson::monotonic_resource mr(buffer, sizeof buffer);
  njson::value doc(&mr);
  if (auto e = parse_object(body, doc)) return e;
  const auto& o = doc.get_object();
  if (auto e = check_model(o, cfg)) return e;
  if (chat) {
    std::string text, last;
    if (auto e = render_chat(o, cfg.chat, text, &last)) return e;
    if (cfg.on_timing) out.prompt_hash = XXH3_64bits(last.data(), last.size());
    tok.encode(text, out.prompt);
  } else if (auto e = read_prompt(o, tok, out.prompt)) {
    return e;
  } else if (cfg.on_timing) {
    if (auto it = o.find("prompt"); it != o.end() && it->value().is_string())
      out.prompt_hash = XXH3_64bits(it->value().get_string().data(), it->value().get_string().size());
  }
  std::optional<std::int64_t> max_tokens, min_tokens, n, seed;
  if (chat) {
    if (auto e = read_optional_count(o, "max_completion_tokens", max_tokens)) return e;
  }
  if (!max_tokens)
    if (auto e = read_optional_count(o, "max_tokens", max_tokens)) return e;
  if (auto e = read_optional_count(o, "min_tokens", min_tokens)) return e;
  if (auto e = read_optional_count(o, "n", n)) return e;
  if (auto e = read_optional_count(o, "seed", seed)) return e;
  if (auto e = read_bool(o, "ignore_eos", out.params.ignore_eos)) return e;
  if (auto e = read_bool(o, "stream", out.stream)) return e;
  if (max_tokens) {
    if (*max_tokens < 1)
      return request_error{400, "max_tokens must be at least 1, got " + std::to_string(*max_tokens) + ".", "max_tokens"};
    out.params.max_tokens = static_cast<std::size_t>(*max_tokens);
  }
  if (min_tokens) {
    if (*min_tokens < 0)
      return request_error{400, "min_tokens must be greater than or equal to 0, got " + std::to_string(*min_tokens) + ".",
                           "min_tokens"};
    out.params.min_tokens = static_cast<std::size_t>(*min_tokens);
  }
  if (n) {
    if (*n < 1) return request_error{400, "n must be at least 1, got " + std::to_string(*n) + ".", "n"};
    if (*n != 1) return request_error{400, "The emulator generates one choice per request (n=1); got n=" + std::to_string(*n) + ".", "n"};
  }
  if (seed) out.params.seed = static_cast<std::uint64_t>(*seed);
  if (auto it = o.find("stream_options"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return type_error("stream_options", "a valid dictionary");
    if (!out.stream)
      return request_error{400, "Stream options can only be defined when `stream=True`.", "stream_options"};
    const auto& so = it->value().get_object();
    if (auto e = read_bool(so, "include_usage", out.include_usage)) return e;
    if (auto e = read_bool(so, "continuous_usage_stats", out.continuous_usage)) return e;
  }
  return std::nullopt;
}

// The body of POST /tokenize: a completion's `prompt` or a chat's `messages`, tokenized.
inline std::optional<request_error> parse_tokenize(std::string_view body, const node_config& cfg,
                                                   const tokenize::tokenizer& tok, std::vector<tokenize::token_id>& ids) {
  njson::monotonic_resource mr;
  njson::value doc(&mr);
  if (auto e = parse_object(body, doc)) return e;
  const auto& o = doc.get_object();
  if (auto e = check_model(o, cfg)) return e;
  if (o.contains("messages")) {
    std::string text;
    if (auto e = render_chat(o, cfg.chat, text)) return e;
    tok.encode(text, ids);
    return std::nullopt;
  }
  return read_prompt(o, tok, ids);
}

}  // namespace planetserve::sim::detail
