// SPDX-License-Identifier: MIT
// Compiled body of planetserve::openai::chunk_decoder and the HTTP error mapping.
#pragma once

#include <planetserve/openai/chunk_decoder.hpp>

#include <boost/json/basic_parser_impl.hpp>
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

inline void quote_start(std::string& out, std::string_view text) {
  constexpr std::size_t max = 200;
  out += '\'';
  for (char c : text.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  if (text.size() > max) out += "...";
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
  if (v.is_double() && v.get_double() >= 0 && v.get_double() < 1e19) {
    out = static_cast<std::uint64_t>(v.get_double());
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

// The common case without building a DOM: a SAX pass (Boost.JSON's basic_parser) that
// understands well-formed chunks only. Anything unusual (an error object, a field of an
// unexpected type, a repeated field, invalid JSON) makes it give up, and the DOM decoder
// below produces the answer and the error messages; so both paths agree by construction.
class fast_chunk_handler {
 public:
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);

  explicit fast_chunk_handler(chunk& out) : out_(out) {}

  /// Whether the document was an object (a chunk at all).
  bool was_object() const noexcept { return was_object_; }
  /// Whether the chunk carried a `usage` object, and its counts.
  bool has_usage() const noexcept { return has_usage_; }
  openai::usage usage_counts() const { return openai::usage{prompt_.value_or(0), completion_.value_or(0), cached_}; }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }

  bool on_object_begin(boost::system::error_code& ec) {
    if (depth_ == 0) return push(ctx::top, ec);
    const role r = take_role();
    const ctx here = current();
    if (here == ctx::choices) return push(ctx::choice, ec);
    switch (r) {
      case role::usage: return push(ctx::usage, ec);
      case role::delta: return push(ctx::delta, ec);
      case role::message: return push(ctx::message, ec);
      case role::details: return push(ctx::details, ec);
      case role::none:
      case role::object: return push(ctx::skip, ec);
      default: return give_up(ec);
    }
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    if (current() == ctx::choice) flush_choice();
    pop();
    return true;
  }
  bool on_array_begin(boost::system::error_code& ec) {
    if (depth_ == 0) return give_up(ec);
    const role r = take_role();
    if (current() == ctx::choices) return give_up(ec);  // a choice must be an object
    switch (r) {
      case role::choices: return push(ctx::choices, ec);
      case role::none:
      case role::object:
      case role::details: return push(ctx::skip, ec);
      default: return give_up(ec);
    }
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    pop();
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    std::string_view k(s.data(), s.size());
    if (!key_.empty()) {
      key_.append(s.data(), s.size());
      k = key_;
    }
    role r = role::none;
    switch (current()) {
      case ctx::top:
        if (k == "choices") r = role::choices;
        else if (k == "usage") r = role::usage;
        else if (k == "error") r = role::error;
        else if (k == "object") r = role::object;
        break;
      case ctx::choice:
        if (k == "text") r = role::text;
        else if (k == "delta") r = role::delta;
        else if (k == "message") r = role::message;
        else if (k == "finish_reason") r = role::finish;
        break;
      case ctx::delta:
      case ctx::message:
        if (k == "content") r = role::content;
        else if (k == "reasoning_content") r = role::reasoning;
        break;
      case ctx::usage:
        if (k == "prompt_tokens") r = role::prompt;
        else if (k == "completion_tokens") r = role::completion;
        else if (k == "prompt_tokens_details") r = role::details;
        break;
      case ctx::details:
        if (k == "cached_tokens") r = role::cached;
        break;
      default:
        break;
    }
    key_.clear();
    if (r != role::none) {
      const unsigned bit = 1u << static_cast<unsigned>(r);
      unsigned& seen = frames_[depth_ - 1].seen;
      if (seen & bit) return give_up(ec);  // a repeated field: let the DOM decide
      seen |= bit;
    }
    role_ = r;
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    if (role_ == role::object) {
      part_.append(s.data(), s.size());
      return true;
    }
    return text_part(s, ec);
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    if (current() == ctx::choices) return give_up(ec);
    if (role_ == role::object) {
      role_ = role::none;
      part_.append(s.data(), s.size());
      const bool error_object = part_ == "error";
      part_.clear();
      return error_object ? give_up(ec) : true;
    }
    if (!text_part(s, ec)) return false;
    role_ = role::none;
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t v, boost::json::string_view, boost::system::error_code& ec) {
    if (v < 0) return count_role() ? give_up(ec) : scalar(ec);
    return count(static_cast<std::uint64_t>(v), ec);
  }
  bool on_uint64(std::uint64_t v, boost::json::string_view, boost::system::error_code& ec) { return count(v, ec); }
  bool on_double(double v, boost::json::string_view, boost::system::error_code& ec) {
    if (count_role()) {
      if (!(v >= 0 && v < 1e19)) return give_up(ec);
      return count(static_cast<std::uint64_t>(v), ec);
    }
    return scalar(ec);
  }
  bool on_bool(bool, boost::system::error_code& ec) { return scalar(ec); }
  bool on_null(boost::system::error_code& ec) {
    if (current() == ctx::choices) return give_up(ec);
    role_ = role::none;  // null is "absent" for every field the decoder reads
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

 private:
  enum class ctx : unsigned char { skip, top, choices, choice, delta, message, usage, details };
  enum class role : unsigned char {
    none, choices, usage, error, object, text, delta, message, finish, content, reasoning, prompt, completion,
    details, cached
  };
  struct frame {
    ctx kind;
    unsigned seen;
  };
  static constexpr std::size_t max_depth = 8;

  ctx current() const noexcept {
    if (depth_ == 0) return ctx::skip;
    return depth_ <= max_depth ? frames_[depth_ - 1].kind : ctx::skip;
  }
  role take_role() noexcept {
    const role r = role_;
    role_ = role::none;
    return r;
  }
  bool push(ctx k, boost::system::error_code& ec) {
    // Below the tracked levels everything is skipped; only the depth is counted.
    if (depth_ >= max_depth) {
      if (k != ctx::skip) return give_up(ec);
      ++depth_;
      return true;
    }
    if (k == ctx::choice) slots_.clear();
    if (k == ctx::top) was_object_ = true;
    if (k == ctx::usage) has_usage_ = true;
    frames_[depth_++] = frame{k, 0};
    return true;
  }
  void pop() noexcept {
    if (depth_ > 0) --depth_;
  }
  bool give_up(boost::system::error_code& ec) {
    ec = boost::json::error::exception;  // stops the parser; the DOM decoder takes over
    return false;
  }
  bool count_role() const noexcept {
    return role_ == role::prompt || role_ == role::completion || role_ == role::cached;
  }
  // A scalar that is not a string, a count or null.
  bool scalar(boost::system::error_code& ec) {
    if (current() == ctx::choices) return give_up(ec);
    const role r = take_role();
    // `object` and `prompt_tokens_details` of another type are ignored by the DOM decoder too.
    if (r == role::none || r == role::object || r == role::details) return true;
    return give_up(ec);
  }
  bool count(std::uint64_t v, boost::system::error_code& ec) {
    if (current() == ctx::choices) return give_up(ec);
    const role r = take_role();
    switch (r) {
      case role::prompt: prompt_ = v; return true;
      case role::completion: completion_ = v; return true;
      case role::cached: cached_ = v; return true;
      case role::none:
      case role::object:
      case role::details: return true;
      default: return give_up(ec);
    }
  }
  bool text_part(boost::json::string_view s, boost::system::error_code& ec) {
    std::string* to = nullptr;
    switch (role_) {
      case role::text: to = &slots_.text; break;
      case role::finish: to = &slots_.finish; break;
      case role::content: to = current() == ctx::delta ? &slots_.delta_content : &slots_.message_content; break;
      case role::reasoning: to = current() == ctx::delta ? &slots_.delta_reasoning : &slots_.message_reasoning; break;
      case role::none:
      case role::details: return true;
      default: return give_up(ec);
    }
    if (role_ == role::finish) slots_.has_finish = true;
    to->append(s.data(), s.size());
    return true;
  }
  // The DOM decoder's order: text, then delta's and message's reasoning_content and content.
  void flush_choice() {
    out_.content += slots_.text;
    out_.content += slots_.delta_reasoning;
    out_.content += slots_.delta_content;
    out_.content += slots_.message_reasoning;
    out_.content += slots_.message_content;
    if (out_.finish_reason.empty() && slots_.has_finish) out_.finish_reason = slots_.finish;
  }

  struct choice_slots {
    std::string text, finish, delta_reasoning, delta_content, message_reasoning, message_content;
    bool has_finish = false;
    void clear() {
      text.clear();
      finish.clear();
      delta_reasoning.clear();
      delta_content.clear();
      message_reasoning.clear();
      message_content.clear();
      has_finish = false;
    }
  };
  chunk& out_;
  frame frames_[max_depth]{};
  std::size_t depth_ = 0;
  role role_ = role::none;
  std::string key_, part_;
  choice_slots slots_;
  std::optional<std::uint64_t> prompt_, completion_, cached_;
  bool was_object_ = false;
  bool has_usage_ = false;
};

}  // namespace detail

boost::system::error_code chunk_decoder::decode(std::string_view text, chunk& out,
                                                diagnostics& diag) {
  namespace json = boost::json;
  out.clear();
  {
    json::basic_parser<detail::fast_chunk_handler> fast(json::parse_options{}, out);
    boost::system::error_code fec;
    const std::size_t used = fast.write_some(false, text.data(), text.size(), fec);
    if (!fec && used == text.size() && fast.handler().was_object()) {
      if (fast.handler().has_usage()) out.usage = fast.handler().usage_counts();
      return {};
    }
    out.clear();
  }
  json::monotonic_resource mr(buffer_, sizeof buffer_);
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
    diag.message += e->message;
    if (!e->type.empty()) diag.message += " (type " + e->type + ')';
  } else if (body.empty()) {
    diag.message += "(empty body)";
  } else {
    detail::quote_start(diag.message, body);
  }
  return code;
}

}  // namespace planetserve::openai
