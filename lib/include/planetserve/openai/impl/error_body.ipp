// SPDX-License-Identifier: MIT
// Compiled body of openai::error_body.
#pragma once

#include <planetserve/openai/error_body.hpp>
#include <planetserve/openai/request_builder.hpp>

namespace planetserve::openai {

std::string_view error_type_for(unsigned status) noexcept {
  switch (status) {
    case 400: return "BadRequestError";
    case 401: return "UnauthorizedError";
    case 403: return "ForbiddenError";
    case 404: return "NotFoundError";
    case 408: return "RequestTimeoutError";
    case 413: return "RequestEntityTooLargeError";
    case 429: return "RateLimitError";
    case 500: return "InternalServerError";
    case 502: return "BadGatewayError";
    case 503: return "ServiceUnavailableError";
    case 504: return "GatewayTimeoutError";
    default: return "Error";
  }
}

std::string error_body(unsigned status, std::string_view message, std::string_view param) {
  std::string out = "{\"error\":{\"message\":";
  append_json_string(out, message);
  out += ",\"type\":";
  append_json_string(out, error_type_for(status));
  out += ",\"param\":";
  if (param.empty()) out += "null"; else append_json_string(out, param);
  out += ",\"code\":";
  out += std::to_string(status);
  out += "}}";
  return out;
}

}  // namespace planetserve::openai
