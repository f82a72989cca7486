// SPDX-License-Identifier: MIT
// workload::chat_message: one message of an OpenAI-style chat prompt (owning; datasets and the emulator).
#pragma once

#include <string>

namespace planetserve::workload {

/// One message of an OpenAI-style chat prompt (text content only).
struct chat_message {
  std::string role;     ///< "system", "user", "assistant" or "tool"
  std::string content;  ///< the text (a content-parts array is joined)
};

}  // namespace planetserve::workload
