// SPDX-License-Identifier: MIT
// planetserve::openai request bodies: /v1/completions and /v1/chat/completions JSON, built fast.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace planetserve::openai {

/// Which OpenAI-compatible endpoint a request goes to.
enum class api { completions, chat };

/// The request path for `a`: "/v1/completions" or "/v1/chat/completions".
constexpr std::string_view endpoint_path(api a) noexcept {
  return a == api::chat ? std::string_view("/v1/chat/completions") : std::string_view("/v1/completions");
}

/// One chat message as views into the caller's strings, for building a request body
/// (workload::chat_message is the owning one).
struct message_view {
  std::string_view role;     ///< "system", "user", "assistant"
  std::string_view content;  ///< the text
};

/// Sampling and streaming options shared by both endpoints.
struct request_options {
  /// Model name as the server knows it.
  std::string model;
  /// max_tokens; unset: the server's default.
  std::optional<unsigned> max_tokens;
  /// Ask for an SSE stream.
  bool stream = true;
  /// With stream: ask for a final chunk carrying `usage` (stream_options.include_usage).
  bool include_usage = true;
  /// vLLM's min_tokens (no stop before this many); unset: not sent.
  std::optional<unsigned> min_tokens;
  /// vLLM's ignore_eos (generate exactly max_tokens); unset: not sent.
  std::optional<bool> ignore_eos;
  /// Sampling temperature; unset: not sent.
  std::optional<double> temperature;
};

/// Appends `s` as a JSON string literal (quotes included) to `out`.
void append_json_string(std::string& out, std::string_view s);

/// Writes the /v1/completions body for `prompt` into `out` (cleared first; its capacity is reused).
void build_completions_body(const request_options& opt, std::string_view prompt, std::string& out);

/// Writes the /v1/chat/completions body for `messages` into `out` (cleared first).
void build_chat_body(const request_options& opt, std::span<const message_view> messages,
                     std::string& out);

}  // namespace planetserve::openai
