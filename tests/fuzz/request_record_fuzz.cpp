// SPDX-License-Identifier: MIT
// libFuzzer entry point for the requests.jsonl reader (what `pswm report` rebuilds a run from), line by line.
#include <planetserve/experiment/report.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ex = planetserve::experiment;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::size_t at = 0; at <= text.size();) {
    const auto nl = text.find('\n', at);
    const auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    planetserve::diagnostics diag;
    auto r = ex::parse_record_line(line, diag);
    if (!r) {
      if (diag.message.empty()) std::abort();  // every refusal must say why
      continue;
    }
    // What was read must write back and read again to the same record.
    planetserve::diagnostics again_diag;
    auto again = ex::parse_record_line(ex::record_line(*r), again_diag);
    if (!again) std::abort();
    if (again->query_id != r->query_id || again->epoch != r->epoch || again->node != r->node ||
        again->prompt_tokens != r->prompt_tokens || again->completion_tokens != r->completion_tokens ||
        again->cached_tokens != r->cached_tokens || again->http_status != r->http_status ||
        again->retries != r->retries || again->match_blocks != r->match_blocks || again->error != r->error)
      std::abort();
  }
  return 0;
}
