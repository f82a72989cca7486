// SPDX-License-Identifier: MIT
// planetserve::openai helpers for a server's side endpoints: /v1/models, /tokenize, /health.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/http/client.hpp>
#include <planetserve/openai/request_builder.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::openai {

/// The answer of POST /tokenize.
struct tokenize_result {
  std::uint64_t count = 0;                     ///< number of prompt tokens
  std::optional<std::uint64_t> max_model_len;  ///< the model's context length, if reported
  std::vector<std::uint32_t> tokens;           ///< the token ids
};

/// GET /v1/models: the ids of the served models. Errors as map_http_error, or invalid_json /
/// missing_field / wrong_field_type for an unexpected body; `diag` names the URL.
boost::asio::awaitable<result<std::vector<std::string>>> async_list_models(
    http::client& client, std::string_view api_key, diagnostics& diag);

/// POST /tokenize {"model", "messages", "add_generation_prompt": true}: the ids the server's
/// chat template and tokenizer give a chat request's messages (vLLM's endpoint).
boost::asio::awaitable<result<tokenize_result>> async_tokenize_chat(http::client& client, std::string_view model,
                                                                    std::span<const message_view> messages,
                                                                    std::string_view api_key, diagnostics& diag);

/// POST /tokenize {"model", "prompt"} (vLLM's endpoint).
boost::asio::awaitable<result<tokenize_result>> async_tokenize(http::client& client,
                                                               std::string_view model,
                                                               std::string_view prompt,
                                                               std::string_view api_key,
                                                               diagnostics& diag);

/// GET /health: success when the server answers 200.
boost::asio::awaitable<boost::system::error_code> async_health(http::client& client,
                                                               diagnostics& diag);

}  // namespace planetserve::openai
