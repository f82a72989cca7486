// SPDX-License-Identifier: MIT
// Compiled body of the OpenAI request builders.
#pragma once

#include <planetserve/openai/request_builder.hpp>

#include <charconv>
#include <cmath>

namespace planetserve::openai {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

namespace detail {

inline void append_options(const request_options& opt, std::string& out) {
  char num[32];
  if (opt.max_tokens) {
    auto r = std::to_chars(num, num + sizeof num, *opt.max_tokens);
    out += ",\"max_tokens\":";
    out.append(num, r.ptr);
  }
  if (opt.min_tokens) {
    auto r = std::to_chars(num, num + sizeof num, *opt.min_tokens);
    out += ",\"min_tokens\":";
    out.append(num, r.ptr);
  }
  if (opt.temperature && std::isfinite(*opt.temperature)) {
    auto r = std::to_chars(num, num + sizeof num, *opt.temperature);
    out += ",\"temperature\":";
    out.append(num, r.ptr);
  }
  if (opt.ignore_eos) out += *opt.ignore_eos ? ",\"ignore_eos\":true" : ",\"ignore_eos\":false";
  if (opt.stream) {
    out += ",\"stream\":true";
    if (opt.include_usage) out += ",\"stream_options\":{\"include_usage\":true}";
  } else {
    out += ",\"stream\":false";
  }
  out += '}';
}

}  // namespace detail

void build_completions_body(const request_options& opt, std::string_view prompt, std::string& out) {
  out.clear();
  out += "{\"model\":";
  append_json_string(out, opt.model);
  out += ",\"prompt\":";
  append_json_string(out, prompt);
  detail::append_options(opt, out);
}

void build_chat_body(const request_options& opt, std::span<const message_view> messages,
                     std::string& out) {
  out.clear();
  out += "{\"model\":";
  append_json_string(out, opt.model);
  out += ",\"messages\":[";
  bool first = true;
  for (const auto& m : messages) {
    if (!first) out += ',';
    first = false;
    out += "{\"role\":";
    append_json_string(out, m.role);
    out += ",\"content\":";
    append_json_string(out, m.content);
    out += '}';
  }
  out += ']';
  detail::append_options(opt, out);
}

}  // namespace planetserve::openai
