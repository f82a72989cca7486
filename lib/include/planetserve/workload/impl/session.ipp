// SPDX-License-Identifier: MIT
// Compiled body of the conversation reader, the turn prompt builder and the ShareGPT writer.
#pragma once

#include <planetserve/workload/detail/jsonl_lines.hpp>
#include <planetserve/workload/session.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <stdexcept>

namespace planetserve::workload {
namespace detail {

enum class speaker { system, user, assistant, unknown };

inline speaker sharegpt_speaker(std::string_view from) noexcept {
  if (from == "human" || from == "user") return speaker::user;
  if (from == "gpt" || from == "assistant" || from == "chatgpt" || from == "bing" || from == "bard" || from == "model")
    return speaker::assistant;
  if (from == "system") return speaker::system;
  return speaker::unknown;
}

inline speaker openai_speaker(std::string_view role) noexcept {
  if (role == "user") return speaker::user;
  if (role == "assistant") return speaker::assistant;
  if (role == "system" || role == "developer") return speaker::system;
  return speaker::unknown;
}

/// Adds one message to the session being built; `where` names it in messages.
/// `last` is who spoke before (updated): an empty reply still ends a turn.
inline boost::system::error_code add_message(session& s, speaker who, speaker& last, std::string text,
                                             const std::string& where, std::string_view said_by, diagnostics& diag) {
  auto join = [](std::string& to, std::string&& more) {
    if (!to.empty()) to += '\n';
    to += more;
  };
  switch (who) {
    case speaker::system:
      if (!s.turns.empty()) {
        diag.message = where + " is a system message after the first user message (only leading ones are supported)";
        return make_error_code(error::wrong_field_type);
      }
      join(s.system, std::move(text));
      last = who;
      return {};
    case speaker::user:
      // Two user messages in a row are one turn: nothing was answered in between.
      if (last != speaker::user) s.turns.emplace_back();
      join(s.turns.back().user, std::move(text));
      last = who;
      return {};
    case speaker::assistant:
      if (s.turns.empty()) {
        diag.message = where + " is an assistant message before any user message";
        return make_error_code(error::wrong_field_type);
      }
      join(s.turns.back().assistant, std::move(text));
      last = who;
      return {};
    case speaker::unknown: break;
  }
  diag.message = where + " is said by " + dq(said_by) + ", expected system, user (human) or assistant (gpt)";
  return make_error_code(error::wrong_field_type);
}

/// A message's string member `key`: missing_field or wrong_field_type otherwise.
inline boost::system::error_code string_member(const boost::json::object& msg, std::string_view key,
                                               const std::string& where, const boost::json::string*& out,
                                               diagnostics& diag) {
  const auto* v = msg.if_contains(boost::json::string_view(key.data(), key.size()));
  if (!v) {
    diag.message = where + " has no " + dq(key);
    return make_error_code(error::missing_field);
  }
  out = v->if_string();
  if (!out) {
    diag.message = where + "." + std::string(key) + " is " + kind_name(v->kind()) + ", expected a string";
    return make_error_code(error::wrong_field_type);
  }
  return {};
}

/// Builds sessions line by line from JSONL.
class session_builder final : public jsonl_lines {
 public:
  session_builder(std::string_view source, const dataset_config& config) : jsonl_lines(source, config), config_(config) {
    out_.source.assign(source);
  }

  bool full() const noexcept override { return config_.max_prompts && out_.sessions.size() >= config_.max_prompts; }

  result<session_dataset> finish(diagnostics& diag) {
    if (out_.sessions.empty()) return nothing_read(diag);
    out_.lines = lines();
    out_.skipped = skipped();
    out_.skip_reasons = std::move(skip_reasons());
    return std::move(out_);
  }

 private:
  boost::system::error_code parse(std::string_view line, std::size_t line_no, diagnostics& diag) override {
    session s;
    if (auto ec = parse_session_line(line, line_no, config_, s, diag)) return ec;
    out_.sessions.push_back(std::move(s));
    return {};
  }

  const dataset_config& config_;
  session_dataset out_;
};

}  // namespace detail

std::size_t session_dataset::turns() const noexcept {
  std::size_t n = 0;
  for (const auto& s : sessions) n += s.turns.size();
  return n;
}

boost::system::error_code parse_session_line(std::string_view line, std::size_t line_no, const dataset_config& config,
                                             session& out, diagnostics& diag) {
  boost::json::value v;
  if (auto ec = detail::parse_json_object(line, config, R"({"conversations": [{"from": "human", "value": "..."}]})",
                                          v, diag))
    return ec;
  const auto& obj = v.get_object();
  out = session{};
  out.line = line_no;
  if (const auto* id = obj.if_contains("id")) {
    if (const auto* s = id->if_string()) {
      out.id.assign(s->data(), s->size());
    } else if (id->is_int64() || id->is_uint64()) {
      out.id = boost::json::serialize(*id);
    } else {
      diag.message = std::string("\"id\" is ") + detail::kind_name(id->kind()) + ", expected a string or an integer";
      return make_error_code(error::wrong_field_type);
    }
  }
  if (out.id.empty()) out.id = std::to_string(line_no);

  const bool sharegpt = obj.contains("conversations");
  const char* key = sharegpt ? "conversations" : "messages";
  const auto* list = obj.if_contains(key);
  if (!list) {
    const std::string keys = detail::key_list(obj);
    diag.message = "neither \"conversations\" (ShareGPT) nor \"messages\" (OpenAI) is in the line" +
                   (keys.empty() ? std::string(" (the object is empty)") : " (it has " + keys + ")");
    return make_error_code(error::missing_field);
  }
  const auto* arr = list->if_array();
  if (!arr) {
    diag.message = std::string("\"") + key + "\" is " + detail::kind_name(list->kind()) + ", expected an array";
    return make_error_code(error::wrong_field_type);
  }
  detail::speaker last = detail::speaker::system;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
    const auto* msg = (*arr)[i].if_object();
    if (!msg) {
      diag.message = where + " is " + detail::kind_name((*arr)[i].kind()) + ", expected a message object";
      return make_error_code(error::wrong_field_type);
    }
    const boost::json::string* who = nullptr;
    std::string text;
    if (sharegpt) {
      const boost::json::string* value = nullptr;
      if (auto ec = detail::string_member(*msg, "from", where, who, diag)) return ec;
      if (auto ec = detail::string_member(*msg, "value", where, value, diag)) return ec;
      text.assign(value->data(), value->size());
    } else {
      if (auto ec = detail::string_member(*msg, "role", where, who, diag)) return ec;
      const auto* content = msg->if_contains("content");
      if (!content) {
        diag.message = where + " has no \"content\"";
        return make_error_code(error::missing_field);
      }
      if (auto ec = detail::read_content(*content, where + ".content", text, diag)) return ec;
    }
    const std::string_view name(who->data(), who->size());
    const auto role = sharegpt ? detail::sharegpt_speaker(name) : detail::openai_speaker(name);
    if (auto ec = detail::add_message(out, role, last, std::move(text), where, name, diag)) return ec;
  }
  if (out.turns.empty()) {
    diag.message = std::string("the conversation has no user turn (\"") + key + "\" holds " +
                   std::to_string(arr->size()) + " messages, none from the user)";
    return make_error_code(error::empty_input);
  }
  return {};
}

result<session_dataset> parse_sessions(std::string_view text, std::string_view source, const dataset_config& config,
                                       diagnostics& diag) {
  detail::session_builder b(source, config);
  if (auto ec = b.feed_text(text, diag)) return ec;
  return b.finish(diag);
}

result<session_dataset> read_sessions(const std::filesystem::path& file, const dataset_config& config,
                                      diagnostics& diag) {
  detail::session_builder b(file.string(), config);
  if (auto ec = b.feed_file(file, diag)) return ec;
  return b.finish(diag);
}

std::vector<chat_message> turn_messages(const session& s, std::size_t k, std::span<const std::string> replies) {
  if (k >= s.turns.size())
    throw std::out_of_range("workload::turn_messages: turn " + std::to_string(k) + " of session " + s.id + " with " +
                            std::to_string(s.turns.size()) + " turns");
  std::vector<chat_message> out;
  out.reserve(2 * k + 2);
  if (!s.system.empty()) out.push_back({"system", s.system});
  for (std::size_t i = 0; i < k; ++i) {
    out.push_back({"user", s.turns[i].user});
    out.push_back({"assistant", i < replies.size() ? replies[i] : s.turns[i].assistant});
  }
  out.push_back({"user", s.turns[k].user});
  return out;
}

std::string to_sharegpt_jsonl(std::span<const session> sessions) {
  std::string out;
  auto message = [&](std::string_view from, const std::string& value, bool first) {
    if (!first) out += ", ";
    out += R"({"from": ")";
    out += from;
    out += R"(", "value": )";
    out += boost::json::serialize(boost::json::string_view(value.data(), value.size()));
    out += '}';
  };
  for (const auto& s : sessions) {
    out += R"({"id": )";
    out += boost::json::serialize(boost::json::string_view(s.id.data(), s.id.size()));
    out += R"(, "conversations": [)";
    bool first = true;
    if (!s.system.empty()) {
      message("system", s.system, first);
      first = false;
    }
    for (std::size_t i = 0; i < s.turns.size(); ++i) {
      message("human", s.turns[i].user, first);
      first = false;
      if (!s.turns[i].assistant.empty() || i + 1 < s.turns.size()) message("gpt", s.turns[i].assistant, false);
    }
    out += "]}\n";
  }
  return out;
}

}  // namespace planetserve::workload
