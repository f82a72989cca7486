// SPDX-License-Identifier: MIT
// Compiled body of route::inspect_request.
#pragma once

#include <planetserve/dispatch/session_policy.hpp>
#include <planetserve/route/request_inspection.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstddef>

namespace planetserve::route {

namespace detail {

namespace json = boost::json;

inline request_problem wrong_type(std::string_view field, std::string_view want) {
  return {400, "'" + std::string(field) + "' must be " + std::string(want), std::string(field)};
}

/// Appends a message's text content: a string, or the "text" of its {"type":"text"} parts.
inline std::optional<request_problem> append_content(const json::value& content, std::string& out) {
  if (content.is_null()) return std::nullopt;
  if (const auto* s = content.if_string()) {
    out.append(s->data(), s->size());
    return std::nullopt;
  }
  const auto* parts = content.if_array();
  if (!parts) return wrong_type("messages[].content", "a string or a list of content parts");
  for (const auto& part : *parts) {
    const auto* o = part.if_object();
    if (!o) return wrong_type("messages[].content[]", "an object");
    if (const auto* t = o->if_contains("text"); t && t->is_string()) out.append(t->get_string().data(), t->get_string().size());
  }
  return std::nullopt;
}

inline std::optional<request_problem> read_prompt(const json::value& p, inspected_request& out) {
  if (const auto* s = p.if_string()) {
    out.prompt.assign(s->data(), s->size());
    return std::nullopt;
  }
  const auto* a = p.if_array();
  if (!a || a->empty()) return wrong_type("prompt", "a string, a list of strings, or a list of token ids");
  // A batch of prompts is routed on its first.
  const json::value& first = a->front();
  if (const auto* s = first.if_string()) {
    out.prompt.assign(s->data(), s->size());
    return std::nullopt;
  }
  const json::array* ids = a;
  if (const auto* inner = first.if_array()) ids = inner;  // a batch of token-id lists
  out.prompt_ids.reserve(ids->size());
  for (const auto& v : *ids) {
    const auto* n = v.if_int64();
    const auto* u = v.if_uint64();
    if (n && *n >= 0 && *n <= 0xFFFF'FFFFll) out.prompt_ids.push_back(static_cast<std::uint32_t>(*n));
    else if (u && *u <= 0xFFFF'FFFFull) out.prompt_ids.push_back(static_cast<std::uint32_t>(*u));
    else return wrong_type("prompt", "a string, a list of strings, or a list of token ids (0 to 2^32-1)");
  }
  return std::nullopt;
}

}  // namespace detail

std::optional<request_problem> inspect_request(endpoint ep, std::string_view body, inspected_request& out) {
  namespace json = boost::json;
  out = inspected_request{};
  unsigned char scratch[4096];
  json::monotonic_resource mr(scratch, sizeof scratch);
  boost::system::error_code ec;
  json::parse_options po;
  po.max_depth = 64;
  const json::value v = json::parse(json::string_view(body.data(), body.size()), ec, &mr, po);
  if (ec) return request_problem{400, "the request body is not valid JSON (" + ec.message() + "); send a JSON object", {}};
  const auto* o = v.if_object();
  if (!o) return request_problem{400, "the request body must be a JSON object", {}};
  if (const auto* m = o->if_contains("model"); m && !m->is_null()) {
    const auto* s = m->if_string();
    if (!s) return detail::wrong_type("model", "a string");
    out.model.assign(s->data(), s->size());
  }
  if (const auto* st = o->if_contains("stream"); st && !st->is_null()) {
    const auto* b = st->if_bool();
    if (!b) return detail::wrong_type("stream", "true or false");
    out.stream = *b;
  }
  if (const auto* u = o->if_contains("user"); u && u->is_string())
    out.session = dispatch::session_key(std::string_view(u->get_string().data(), u->get_string().size()));
  if (ep == endpoint::completions) {
    const auto* p = o->if_contains("prompt");
    if (!p) return request_problem{400, "'prompt' is required for /v1/completions", "prompt"};
    return detail::read_prompt(*p, out);
  }
  const auto* msgs = o->if_contains("messages");
  if (!msgs) return request_problem{400, "'messages' is required for /v1/chat/completions", "messages"};
  const auto* list = msgs->if_array();
  if (!list) return detail::wrong_type("messages", "a list of messages");
  out.messages.reserve(list->size());
  for (const auto& m : *list) {
    const auto* mo = m.if_object();
    if (!mo) return detail::wrong_type("messages[]", "an object with 'role' and 'content'");
    auto& cm = out.messages.emplace_back();
    if (const auto* r = mo->if_contains("role"); r && r->is_string()) cm.role.assign(r->get_string().data(), r->get_string().size());
    if (const auto* c = mo->if_contains("content"))
      if (auto problem = detail::append_content(*c, cm.content)) return problem;
    out.prompt += cm.content;
  }
  return std::nullopt;
}

}  // namespace planetserve::route
