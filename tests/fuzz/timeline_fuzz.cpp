// SPDX-License-Identifier: MIT
// libFuzzer entry point for the timeline readers `pswm report` uses: timeline.json and metrics_timeline.jsonl.
#include <planetserve/experiment/report.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ex = planetserve::experiment;
  if (size == 0) return 0;
  // The first byte picks the reader, and for the JSONL one how many node URLs the run had.
  const auto mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  planetserve::diagnostics diag;
  if ((mode & 1) == 0) {
    auto tls = ex::parse_timelines_json(text, diag);
    if (!tls) {
      if (diag.message.empty()) std::abort();
      return 0;
    }
    // Written back, it reads again to as many nodes with as many samples.
    auto again = ex::parse_timelines_json(ex::timelines_json(*tls), diag);
    if (!again || again->size() != tls->size()) std::abort();
    for (std::size_t k = 0; k < tls->size(); ++k)
      if ((*again)[k].samples.size() != (*tls)[k].samples.size() ||
          (*again)[k].failed_scrapes != (*tls)[k].failed_scrapes)
        std::abort();
    (void)ex::summarize({}, *tls);
    (void)ex::throughput_records_json(*tls, 0.5);
    return 0;
  }
  std::vector<std::string> urls;
  for (unsigned k = 0; k < (mode >> 1) % 8u; ++k) urls.push_back("http://127.0.0.1:" + std::to_string(8000 + k));
  std::size_t bad = 0;
  auto tls = ex::parse_metrics_timeline_jsonl(text, urls, bad, diag);
  if (!tls) {
    if (diag.message.empty()) std::abort();
    return 0;
  }
  if (tls->size() > 4096) std::abort();  // node_K names are bounded
  (void)ex::summarize({}, *tls);
  (void)ex::throughput_records_json(*tls, 0.5);
  return 0;
}
