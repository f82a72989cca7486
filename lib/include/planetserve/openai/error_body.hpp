// SPDX-License-Identifier: MIT
// planetserve::openai::error_body: vLLM's JSON error response, for servers and routers that answer like vLLM.
#pragma once

#include <string>
#include <string_view>

namespace planetserve::openai {

/// The error `type` vLLM (and the OpenAI SDK) names for HTTP `status` ("BadRequestError"
/// for 400, "NotFoundError" for 404 ...; "Error" for others).
std::string_view error_type_for(unsigned status) noexcept;

/// vLLM's ErrorResponse body: {"error": {"message", "type", "param", "code"}}, `param` null
/// when empty, `code` the status.
std::string error_body(unsigned status, std::string_view message, std::string_view param = {});

}  // namespace planetserve::openai
