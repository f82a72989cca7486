// SPDX-License-Identifier: MIT
// Compiled body of the /v1/models, /tokenize and /health helpers.
#pragma once

#include <planetserve/openai/chunk_decoder.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/openai/server_info.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>

namespace planetserve::openai {
namespace detail {

// Fetches `req`; non-2xx becomes map_http_error. The body is left in `body`.
inline boost::asio::awaitable<boost::system::error_code> fetch_ok(http::client& client,
                                                                  const http::client_request& req,
                                                                  std::string& body,
                                                                  diagnostics& diag) {
  auto r = co_await client.async_fetch(req, diag);
  if (!r) co_return r.error();
  body = std::move(r->body);
  if (r->status < 200 || r->status > 299) {
    std::string what = client.base().origin();
    what.append(req.target);
    co_return map_http_error(r->status, body, what, diag);
  }
  co_return boost::system::error_code{};
}

inline boost::system::error_code body_error(http::client& client, std::string_view target,
                                            error e, std::string_view why, diagnostics& diag) {
  diag.message = "unexpected response from " + client.base().origin();
  diag.message.append(target);
  diag.message += ": ";
  diag.message.append(why);
  return e;
}

inline bool to_u64(const boost::json::value& v, std::uint64_t& out) {
  if (v.is_uint64()) {
    out = v.get_uint64();
    return true;
  }
  if (v.is_int64() && v.get_int64() >= 0) {
    out = static_cast<std::uint64_t>(v.get_int64());
    return true;
  }
  return false;
}

}  // namespace detail

boost::asio::awaitable<result<std::vector<std::string>>> async_list_models(
    http::client& client, std::string_view api_key, diagnostics& diag) {
  namespace json = boost::json;
  std::string auth;
  std::array<http::header_field, 1> h;
  std::size_t nh = 0;
  if (!api_key.empty()) {
    auth = "Bearer ";
    auth.append(api_key);
    h[nh++] = {"Authorization", auth};
  }
  const auto req = http::client_request::get("/v1/models", std::span<const http::header_field>(h.data(), nh));
  std::string body;
  auto ec = co_await detail::fetch_ok(client, req, body, diag);
  if (ec) co_return ec;
  boost::system::error_code jec;
  json::value v = json::parse(body, jec);
  if (jec) co_return detail::body_error(client, req.target, error::invalid_json, "not JSON", diag);
  const auto* data = v.is_object() ? v.get_object().if_contains("data") : nullptr;
  if (!data) co_return detail::body_error(client, req.target, error::missing_field, "no `data` array", diag);
  if (!data->is_array()) co_return detail::body_error(client, req.target, error::wrong_field_type, "`data` is not an array", diag);
  std::vector<std::string> ids;
  for (const auto& m : data->get_array()) {
    const auto* id = m.is_object() ? m.get_object().if_contains("id") : nullptr;
    if (!id || !id->is_string())
      co_return detail::body_error(client, req.target, error::wrong_field_type, "a model without a string `id`", diag);
    ids.emplace_back(id->get_string());
  }
  co_return ids;
}

namespace detail {
// POST /tokenize with `req_body`; its answer read into a tokenize_result.
inline boost::asio::awaitable<result<tokenize_result>> post_tokenize(http::client& client, std::string req_body,
                                                                    std::string_view api_key, diagnostics& diag) {
  namespace json = boost::json;
  std::string auth;
  std::array<http::header_field, 1> h;
  std::size_t nh = 0;
  if (!api_key.empty()) {
    auth = "Bearer ";
    auth.append(api_key);
    h[nh++] = {"Authorization", auth};
  }
  const auto req = http::client_request::post("/tokenize", "application/json", req_body,
                                              std::span<const http::header_field>(h.data(), nh));
  std::string body;
  auto ec = co_await detail::fetch_ok(client, req, body, diag);
  if (ec) co_return ec;
  boost::system::error_code jec;
  json::value v = json::parse(body, jec);
  if (jec || !v.is_object())
    co_return detail::body_error(client, req.target, error::invalid_json, "not a JSON object", diag);
  const auto& o = v.get_object();
  tokenize_result out;
  const auto* count = o.if_contains("count");
  if (!count) co_return detail::body_error(client, req.target, error::missing_field, "no `count`", diag);
  if (!detail::to_u64(*count, out.count))
    co_return detail::body_error(client, req.target, error::wrong_field_type, "`count` is not a non-negative integer", diag);
  if (const auto* mml = o.if_contains("max_model_len"); mml && !mml->is_null()) {
    std::uint64_t n = 0;
    if (!detail::to_u64(*mml, n))
      co_return detail::body_error(client, req.target, error::wrong_field_type, "`max_model_len` is not an integer", diag);
    out.max_model_len = n;
  }
  if (const auto* toks = o.if_contains("tokens"); toks && !toks->is_null()) {
    if (!toks->is_array())
      co_return detail::body_error(client, req.target, error::wrong_field_type, "`tokens` is not an array", diag);
    out.tokens.reserve(toks->get_array().size());
    for (const auto& t : toks->get_array()) {
      std::uint64_t id = 0;
      if (!detail::to_u64(t, id) || id > UINT32_MAX)
        co_return detail::body_error(client, req.target, error::wrong_field_type, "a token id is not a 32-bit integer", diag);
      out.tokens.push_back(static_cast<std::uint32_t>(id));
    }
  }
  co_return out;
}
}  // namespace detail

boost::asio::awaitable<result<tokenize_result>> async_tokenize(http::client& client,
                                                               std::string_view model,
                                                               std::string_view prompt,
                                                               std::string_view api_key,
                                                               diagnostics& diag) {
  std::string req_body = "{\"model\":";
  append_json_string(req_body, model);
  req_body += ",\"prompt\":";
  append_json_string(req_body, prompt);
  req_body += '}';
  co_return co_await detail::post_tokenize(client, std::move(req_body), api_key, diag);
}

boost::asio::awaitable<result<tokenize_result>> async_tokenize_chat(http::client& client, std::string_view model,
                                                                    std::span<const message_view> messages,
                                                                    std::string_view api_key, diagnostics& diag) {
  std::string req_body = "{\"model\":";
  append_json_string(req_body, model);
  req_body += ",\"messages\":[";
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (i) req_body += ',';
    req_body += "{\"role\":";
    append_json_string(req_body, messages[i].role);
    req_body += ",\"content\":";
    append_json_string(req_body, messages[i].content);
    req_body += '}';
  }
  req_body += "],\"add_generation_prompt\":true}";
  co_return co_await detail::post_tokenize(client, std::move(req_body), api_key, diag);
}

boost::asio::awaitable<boost::system::error_code> async_health(http::client& client,
                                                               diagnostics& diag) {
  std::string body;
  const auto req = http::client_request::get("/health");
  co_return co_await detail::fetch_ok(client, req, body, diag);
}

}  // namespace planetserve::openai
