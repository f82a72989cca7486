// SPDX-License-Identifier: MIT
// libFuzzer entry point for the router's request path: body inspection (model, stream, prompt) and its refusals.
#include <planetserve/route/request_inspection.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace route = planetserve::route;
  if (size == 0) return 0;
  // The first byte picks the endpoint.
  const auto ep = data[0] % 2 ? route::endpoint::chat_completions : route::endpoint::completions;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  route::inspected_request r;
  const auto problem = route::inspect_request(ep, body, r);
  if (problem) {
    // A refusal is a 4xx with a message, and nothing half-read is kept from it.
    if (problem->status < 400 || problem->status > 499 || problem->message.empty()) std::abort();
  } else {
    // An accepted body gave one prompt form: text or token ids, not both.
    if (!r.prompt.empty() && !r.prompt_ids.empty()) std::abort();
  }
  return 0;
}
