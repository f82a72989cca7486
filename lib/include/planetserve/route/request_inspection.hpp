// SPDX-License-Identifier: MIT
// route::inspect_request: what a router needs from an OpenAI request body (model, stream, prompt), or a vLLM-style refusal; sans-io.
#pragma once

#include <planetserve/workload/chat_message.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::route {

/// Which generation endpoint a body was sent to.
enum class endpoint : std::uint8_t {
  completions,       ///< POST /v1/completions ("prompt")
  chat_completions,  ///< POST /v1/chat/completions ("messages")
};

/// The parts of a generation request a router routes on. The body itself is forwarded as is.
struct inspected_request {
  std::string model;                    ///< "model"; empty when absent (vLLM then uses its served model)
  bool stream = false;                  ///< "stream"
  std::string prompt;                   ///< the text routed on: "prompt" (the first of a list), or the messages' text contents in order
  std::vector<std::uint32_t> prompt_ids;  ///< "prompt" given as token ids (then `prompt` is empty)
  /// Chat: the messages, each with its role ("" when absent) and its text content (parts
  /// joined), for a router that renders them with the nodes' chat template.
  std::vector<workload::chat_message> messages;
  std::uint64_t session = 0;            ///< dispatch::session_key of "user", 0 when absent
};

/// Why a body is refused: an HTTP status (400) and vLLM's kind of message, naming the field.
struct request_problem {
  unsigned status = 400;  ///< HTTP status to answer with
  std::string message;    ///< what is wrong and what to send instead
  std::string param;      ///< the offending field, "" when the whole body is at fault
};

/// Reads `body` (sent to `ep`) into `out`, or says why it cannot be routed: not JSON, not an
/// object, a field of the wrong type, no prompt/messages. Fields the router does not need are
/// not checked (the node checks them). Never throws for any input.
std::optional<request_problem> inspect_request(endpoint ep, std::string_view body, inspected_request& out);

}  // namespace planetserve::route
