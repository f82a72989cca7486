// SPDX-License-Identifier: MIT
// libFuzzer entry point for the emulator's request bodies: /v1/completions, /v1/chat/completions, /tokenize.
#include <planetserve/sim/detail/request_parser.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sd = planetserve::sim::detail;
  if (size == 0) return 0;
  static const auto tok = planetserve::sim::default_prompt_tokenizer();
  static const planetserve::sim::node_config cfg = [] {
    planetserve::sim::node_config c;
    c.on_timing = [](const planetserve::sim::request_timing&) {};  // exercises the prompt hash too
    return c;
  }();
  // The engine behind the node admits what parsing accepted, or refuses it with a message.
  static const auto eng = [] {
    planetserve::diagnostics d;
    return planetserve::sim::engine::validate(cfg.engine, d) ? nullptr
                                                           : std::make_unique<planetserve::sim::engine>(cfg.engine);
  }();
  // The first byte picks the route.
  const auto route = data[0] % 3;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::optional<sd::request_error> err;
  if (route == 2) {
    std::vector<planetserve::tokenize::token_id> ids;
    err = sd::parse_tokenize(body, cfg, *tok, ids);
  } else {
    sd::generation_request req;
    err = sd::parse_generation(body, route == 1, cfg, *tok, req);
    // An accepted request asks for at least one token, and n=1 only.
    if (!err && req.params.max_tokens && *req.params.max_tokens < 1) std::abort();
    if (!err && eng) {
      planetserve::diagnostics d;
      if (!eng->add_request("fuzz", std::move(req.prompt), req.params, planetserve::sim::time_point{}, d))
        eng->abort("fuzz");
      else if (d.message.empty())
        std::abort();
    }
  }
  // A refusal is a 4xx with vLLM's message, never an empty one.
  if (err && (err->status < 400 || err->status > 499 || err->message.empty())) std::abort();
  return 0;
}
