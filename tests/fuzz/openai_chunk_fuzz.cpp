// SPDX-License-Identifier: MIT
// libFuzzer target: the OpenAI chunk decoder and error-body mapping on arbitrary bytes, and
// the decoder's fast path held to the full parse's answers.
// The decoder's body is compiled here, not taken from the library, so that libFuzzer's
// coverage instrumentation sees it (the library is built without it; clang 14 cannot
// instrument the library's coroutine code). The linker then never pulls openai.cpp.o.
#include <planetserve/openai/impl/chunk_decoder.ipp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static planetserve::openai::chunk_decoder dec;
  planetserve::openai::chunk ch;
  planetserve::diagnostics diag;
  auto ec = dec.decode(text, ch, diag);
  if (ec && diag.message.empty()) std::abort();  // every failure must say why
  if (!ec && ch.usage && ch.error) std::abort();  // an error chunk carries nothing else
  // Whatever the fast path takes, the full parse takes with the same answer: for the whole
  // input alone, and for the part after its first newline read through the frame of the
  // part before it (as a stream's next chunk).
  namespace oa = planetserve::openai;
  auto same_as_full = [&](std::string_view t, const oa::chunk& fast) {
    oa::chunk full;
    unsigned char scratch[256];
    if (oa::detail::decode_full(t, full, diag, scratch, sizeof scratch)) std::abort();
    if (fast.content != full.content || fast.finish_reason != full.finish_reason || fast.id != full.id || full.error) std::abort();
    if (fast.usage.has_value() != full.usage.has_value()) std::abort();
    if (fast.usage && (fast.usage->prompt_tokens != full.usage->prompt_tokens ||
                       fast.usage->completion_tokens != full.usage->completion_tokens ||
                       fast.usage->cached_tokens != full.usage->cached_tokens))
      std::abort();
  };
  oa::chunk fast;
  if (oa::detail::scan_chunk(text, fast)) same_as_full(text, fast);
  if (const auto nl = text.find('\n'); nl != std::string_view::npos) {
    oa::detail::chunk_frame frame;
    const auto first = text.substr(0, nl), second = text.substr(nl + 1);
    if (oa::detail::scan_chunk(first, fast, frame)) same_as_full(first, fast);
    if (oa::detail::scan_chunk(second, fast, frame)) same_as_full(second, fast);
  }
  planetserve::openai::parse_error_body(text);
  planetserve::openai::map_http_error(400 + static_cast<unsigned>(size % 200), text, "fuzz", diag);
  if (diag.message.empty()) std::abort();
  return 0;
}
