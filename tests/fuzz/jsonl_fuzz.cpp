// SPDX-License-Identifier: MIT
// libFuzzer entry point for the JSONL workload reader, fed from memory.
#include <planetserve/workload/dataset.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ws = planetserve::workload;
  if (size == 0) return 0;
  // The first byte picks the settings, so one corpus covers every mode.
  const auto mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  ws::dataset_config config;
  config.skip_bad_lines = (mode & 1) != 0;
  config.field = (mode & 2) ? "messages" : "workload";
  config.max_line_bytes = (mode & 4) ? 64 : 16 * 1024 * 1024;
  config.max_prompts = (mode & 8) ? 3 : 0;
  planetserve::diagnostics diag;
  auto d = ws::parse_dataset(text, "fuzz.jsonl", config, diag);
  if (d) {
    // Invariants: a success has prompts, no more than lines, and each is non-empty text.
    if (d->prompts.empty() || d->prompts.size() + d->skipped > d->lines) std::abort();
    if (!config.skip_bad_lines && d->skipped != 0) std::abort();
    for (const auto& p : d->prompts)
      if (p.text.empty() || p.line == 0) std::abort();
    // What we read must write back and read again to the same texts.
    std::vector<std::string> texts;
    for (const auto& p : d->prompts) texts.push_back(p.text);
    ws::dataset_config again;
    auto d2 = ws::parse_dataset(ws::to_jsonl(texts, "workload"), "again", again, diag);
    if (!d2 || d2->prompts.size() != texts.size()) std::abort();
    for (std::size_t i = 0; i < texts.size(); ++i)
      if (d2->prompts[i].text != texts[i]) std::abort();
  } else if (diag.message.empty()) {
    std::abort();  // every failure must say why
  }
  return 0;
}
