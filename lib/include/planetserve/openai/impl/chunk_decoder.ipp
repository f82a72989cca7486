// SPDX-License-Identifier: MIT
// Compiled body of planetserve::openai::chunk_decoder and the HTTP error mapping.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/detail/sanitize.hpp>
#include <planetserve/openai/chunk_decoder.hpp>
#include <planetserve/openai/detail/chunk_paths.hpp>
#include <planetserve/openai/impl/chunk_scanner.ipp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace planetserve::openai {
namespace detail {

namespace json = boost::json;

// Quotes the start of a server's text, made safe (planetserve::detail::append_sanitized).
inline void quote_start(std::string& out, std::string_view text) {
  out += '\'';
  planetserve::detail::append_sanitized(out, text, 200);
  out += '\'';
}

// Reads an optional non-negative integer; false if present with another type.
inline bool read_count(const json::object& o, std::string_view key, std::optional<std::uint64_t>& out) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return true;
  const auto& v = it->value();
  if (v.is_uint64()) {
    out = v.get_uint64();
    return true;
  }
  if (v.is_int64() && v.get_int64() >= 0) {
    out = static_cast<std::uint64_t>(v.get_int64());
    return true;
  }
  if (auto c = v.is_double() ? planetserve::detail::checked_cast<std::uint64_t>(v.get_double()) : std::nullopt) {
    out = *c;
    return true;
  }
  return false;
}

inline bool append_string_field(const json::object& o, std::string_view key, std::string& out) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return true;
  if (!it->value().is_string()) return false;
  const auto& s = it->value().get_string();
  out.append(s.data(), s.size());
  return true;
}

inline std::optional<server_error> error_from(const json::object& top) {
  if (auto it = top.find("error"); it != top.end() && !it->value().is_null()) {
    server_error e;
    const auto& v = it->value();
    if (v.is_string()) {
      e.message.assign(v.get_string().data(), v.get_string().size());
      return e;
    }
    if (v.is_object()) {
      const auto& eo = v.get_object();
      append_string_field(eo, "message", e.message);
      append_string_field(eo, "type", e.type);
      if (auto c = eo.find("code"); c != eo.end() && !c->value().is_null()) {
        if (c->value().is_string())
          e.code.assign(c->value().get_string().data(), c->value().get_string().size());
        else
          e.code = json::serialize(c->value());
      }
      if (e.message.empty()) e.message = json::serialize(v);
      return e;
    }
    server_error other;
    other.message = json::serialize(v);
    return other;
  }
  if (auto it = top.find("object"); it != top.end() && it->value().is_string() &&
                                    it->value().get_string() == "error") {
    server_error e;
    append_string_field(top, "message", e.message);
    append_string_field(top, "type", e.type);
    if (auto c = top.find("code"); c != top.end() && !c->value().is_null())
      e.code = c->value().is_string() ? std::string(c->value().get_string()) : json::serialize(c->value());
    return e;
  }
  return std::nullopt;
}

}  // namespace detail

boost::system::error_code chunk_decoder::decode(std::string_view text, chunk& out,
                                                diagnostics& diag) {
  if (detail::scan_chunk(text, out, frame_)) return {};
  return detail::decode_full(text, out, diag, buffer_, sizeof buffer_);
}

boost::system::error_code detail::decode_full(std::string_view text, chunk& out, diagnostics& diag,
                                              unsigned char* scratch, std::size_t scratch_size) {
  namespace json = boost::json;
  out.clear();
  json::monotonic_resource mr(scratch, scratch_size);
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, json::storage_ptr(&mr));
  auto fail = [&](error e, std::string_view why) {
    diag.message.assign(why);
    diag.message += " in ";
    detail::quote_start(diag.message, text);
    return make_error_code(e);
  };
  if (ec) return fail(error::invalid_json, "invalid JSON (" + ec.message() + ')');
  if (!v.is_object()) return fail(error::wrong_field_type, "expected a JSON object");
  const auto& top = v.get_object();
  out.error = detail::error_from(top);
  if (out.error) return {};
  if (auto it = top.find("id"); it != top.end() && it->value().is_string())
    out.id.assign(it->value().get_string().data(), it->value().get_string().size());
  if (auto it = top.find("choices"); it != top.end() && !it->value().is_null()) {
    if (!it->value().is_array()) return fail(error::wrong_field_type, "`choices` is not an array");
    for (const auto& cv : it->value().get_array()) {
      if (!cv.is_object()) return fail(error::wrong_field_type, "a choice is not an object");
      const auto& c = cv.get_object();
      bool ok = detail::append_string_field(c, "text", out.content);
      for (std::string_view holder : {"delta", "message"}) {
        auto d = c.find(holder);
        if (d == c.end() || d->value().is_null()) continue;
        if (!d->value().is_object()) return fail(error::wrong_field_type, "`delta`/`message` is not an object");
        const auto& dobj = d->value().get_object();
        ok = ok && detail::append_string_field(dobj, "reasoning_content", out.content);
        ok = ok && detail::append_string_field(dobj, "content", out.content);
      }
      if (!ok) return fail(error::wrong_field_type, "text/content is not a string");
      if (out.finish_reason.empty()) {
        if (!detail::append_string_field(c, "finish_reason", out.finish_reason))
          return fail(error::wrong_field_type, "`finish_reason` is not a string");
      }
    }
  }
  if (auto it = top.find("usage"); it != top.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return fail(error::wrong_field_type, "`usage` is not an object");
    const auto& u = it->value().get_object();
    std::optional<std::uint64_t> p, c, cached;
    if (!detail::read_count(u, "prompt_tokens", p) || !detail::read_count(u, "completion_tokens", c))
      return fail(error::wrong_field_type, "a token count in `usage` is not a non-negative number");
    if (auto d = u.find("prompt_tokens_details"); d != u.end() && d->value().is_object()) {
      if (!detail::read_count(d->value().get_object(), "cached_tokens", cached))
        return fail(error::wrong_field_type, "`cached_tokens` is not a non-negative number");
    }
    out.usage = usage{p.value_or(0), c.value_or(0), cached};
  }
  return {};
}

std::optional<server_error> parse_error_body(std::string_view body) {
  namespace json = boost::json;
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& top = v.get_object();
  if (auto e = detail::error_from(top)) return e;
  if (auto it = top.find("detail"); it != top.end() && !it->value().is_null()) {
    server_error e;
    e.message = it->value().is_string() ? std::string(it->value().get_string())
                                        : json::serialize(it->value());
    return e;
  }
  return std::nullopt;
}

boost::system::error_code map_http_error(unsigned status, std::string_view body,
                                         std::string_view what, diagnostics& diag) {
  error code = error::bad_status;
  if (status == 400 || status == 422) code = error::bad_request;
  else if (status == 401 || status == 403) code = error::unauthorized;
  else if (status == 404) code = error::not_found;
  else if (status == 429) code = error::rate_limited;
  else if (status >= 500 && status <= 599) code = error::server_error;
  diag.message = "HTTP " + std::to_string(status) + " from ";
  diag.message.append(what);
  diag.message += ": ";
  if (auto e = parse_error_body(body)) {
    planetserve::detail::append_sanitized(diag.message, e->message);
    if (!e->type.empty()) {
      diag.message += " (type ";
      planetserve::detail::append_sanitized(diag.message, e->type, 64);
      diag.message += ')';
    }
  } else if (body.empty()) {
    diag.message += "(empty body)";
  } else {
    detail::quote_start(diag.message, body);
  }
  return code;
}

}  // namespace planetserve::openai
