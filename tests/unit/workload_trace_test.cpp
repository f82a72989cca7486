// SPDX-License-Identifier: MIT
// Mooncake-format traces: reading, refusing bad lines, and the text and tokens hash ids stand for.
#include <planetserve/tokenize/approx_tokenizer.hpp>
#include <planetserve/workload/dataset.hpp>
#include <planetserve/workload/trace.hpp>
#include <planetserve/workload/trace_generator.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace ps = planetserve;
namespace wl = planetserve::workload;
namespace fs = std::filesystem;

namespace {

// A fresh folder of this test's own, removed at the end.
struct temp_dir {
  fs::path path;
  explicit temp_dir(const std::string& name)
      : path(fs::temp_directory_path() / ("pswm-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

fs::path write_file(const fs::path& dir, const std::string& name, const std::string& text) {
  const fs::path p = dir / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

const char* three_requests =
    "{\"timestamp\": 0, \"input_length\": 1100, \"output_length\": 12, \"hash_ids\": [1, 2, 3]}\n"
    "{\"timestamp\": 250, \"input_length\": 700, \"output_length\": 3, \"hash_ids\": [1, 4]}\n"
    "\n"
    "{\"timestamp\": 250.5, \"input_length\": 40, \"output_length\": 1, \"hash_ids\": [9]}\n";

}  // namespace

TEST_CASE("trace: a Mooncake trace reads into requests with their lines, lengths and ids", "[workload][trace]") {
  temp_dir tmp("trace-read");
  ps::diagnostics diag;
  auto t = wl::read_trace(write_file(tmp.path, "t.jsonl", three_requests), {}, diag);
  INFO(diag.message);
  REQUIRE(t.has_value());
  REQUIRE(t->requests.size() == 3);
  CHECK(t->requests[1].timestamp_ms == 250);
  CHECK(t->requests[1].input_length == 700);
  CHECK(t->requests[1].output_length == 3);
  CHECK(t->requests[1].hash_ids == std::vector<std::uint64_t>{1, 4});
  CHECK(t->requests[2].line == 4);  // the blank line counts as a line of the file
  wl::trace_config two;
  two.max_requests = 2;
  auto cut = wl::read_trace(tmp.path / "t.jsonl", two, diag);
  REQUIRE(cut.has_value());
  CHECK(cut->requests.size() == 2);
}

TEST_CASE("trace: equal hash ids give byte-identical text, and the prompt has input_length tokens", "[workload][trace]") {
  wl::trace_request a{0, 1100, 12, {1, 2, 3}, 1}, b{0, 700, 3, {1, 4}, 2};
  std::string ta, tb;
  wl::append_prompt_text(a, 512, ta);
  wl::append_prompt_text(b, 512, tb);
  std::string block1;
  wl::append_block_text(1, 512, block1);
  // Both start with block 1, and then differ.
  REQUIRE(ta.substr(0, block1.size()) == block1);
  REQUIRE(tb.substr(0, block1.size()) == block1);
  CHECK(ta.substr(block1.size(), 40) != tb.substr(block1.size(), 40));
  // One word per token, each with its leading space.
  const auto words = [](const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), ' ')); };
  CHECK(words(ta) == 1100);
  CHECK(words(tb) == 700);
  // The tokens without text: as many, and shared exactly where the ids are.
  std::vector<ps::tokenize::token_id> ka, kb;
  wl::append_prompt_tokens(a, 512, ka);
  wl::append_prompt_tokens(b, 512, kb);
  REQUIRE(ka.size() == 1100);
  REQUIRE(kb.size() == 700);
  CHECK(std::equal(ka.begin(), ka.begin() + 512, kb.begin()));
  CHECK(!std::equal(ka.begin() + 512, ka.begin() + 700, kb.begin() + 512));
  // Different blocks differ.
  std::string block2;
  wl::append_block_text(2, 512, block2);
  CHECK(block1 != block2);
  // The approximate tokenizer (calibrated to Llama 3) counts about one token per word.
  const ps::tokenize::approx_tokenizer approx;
  const double ratio = static_cast<double>(approx.count(ta)) / 1100.0;
  CHECK(ratio > 0.9);
  CHECK(ratio < 1.1);
}

TEST_CASE("trace: ids covering fewer tokens than input_length are filled with text of that request alone", "[workload][trace]") {
  wl::trace_request a{0, 600, 1, {5}, 10}, b{0, 600, 1, {5}, 11};
  std::vector<ps::tokenize::token_id> ka, kb;
  wl::append_prompt_tokens(a, 512, ka);
  wl::append_prompt_tokens(b, 512, kb);
  REQUIRE(ka.size() == 600);
  CHECK(std::equal(ka.begin(), ka.begin() + 512, kb.begin()));
  CHECK(!std::equal(ka.begin() + 512, ka.end(), kb.begin() + 512));
}

TEST_CASE("trace: bad lines are refused with file:line and the reason, or skipped and counted", "[workload][trace]") {
  temp_dir tmp("trace-bad");
  struct bad_case {
    const char* line;
    const char* reason;
  };
  const bad_case cases[] = {
      {"{\"timestamp\": 5, \"input_length\": 10, \"output_length\": 2}", "missing field \"hash_ids\""},
      {"{\"timestamp\": 5, \"input_length\": -10, \"output_length\": 2, \"hash_ids\": [1]}", "\"input_length\" must be"},
      {"{\"timestamp\": 5, \"input_length\": 10.5, \"output_length\": 2, \"hash_ids\": [1]}", "\"input_length\" must be"},
      {"{\"timestamp\": 5, \"input_length\": 10, \"output_length\": 0, \"hash_ids\": [1]}", "\"output_length\" must be"},
      {"{\"timestamp\": -1, \"input_length\": 10, \"output_length\": 2, \"hash_ids\": [1]}", "\"timestamp\" must be"},
      {"{\"timestamp\": 5, \"input_length\": 10, \"output_length\": 2, \"hash_ids\": [1, -2]}", "\"hash_ids\"[1]"},
      {"{\"timestamp\": 5, \"input_length\": 600, \"output_length\": 2, \"hash_ids\": [1, 2, 3]}", "3 hash_ids but input_length 600 fills only 2"},
      {"{\"timestamp\": 1, \"input_length\": 10, \"output_length\": 2, \"hash_ids\": [1]}", "goes backwards"},
      {"[1, 2]", "must be an object"},
  };
  for (const auto& c : cases) {
    const std::string text = std::string("{\"timestamp\": 3, \"input_length\": 10, \"output_length\": 2, \"hash_ids\": [0]}\n") + c.line + "\n";
    const auto file = write_file(tmp.path, "bad.jsonl", text);
    ps::diagnostics diag;
    auto t = wl::read_trace(file, {}, diag);
    INFO(c.line << "\n" << diag.message);
    REQUIRE_FALSE(t.has_value());
    CHECK(diag.message.find(file.string() + ":2: ") == 0);
    CHECK(diag.message.find(c.reason) != std::string::npos);
    wl::trace_config skip;
    skip.skip_bad_lines = true;
    auto kept = wl::read_trace(file, skip, diag);
    REQUIRE(kept.has_value());
    CHECK(kept->requests.size() == 1);
    CHECK(kept->skipped == 1);
  }
}

TEST_CASE("trace: read_dataset tells a trace from a prompt file by its fields, and --format forces either", "[workload][trace]") {
  temp_dir tmp("trace-detect");
  ps::diagnostics diag;
  const auto trace_file = write_file(tmp.path, "t.jsonl", three_requests);
  auto d = wl::read_dataset(trace_file, {}, diag);
  INFO(diag.message);
  REQUIRE(d.has_value());
  REQUIRE(d->prompts.size() == 3);
  REQUIRE(d->prompts[0].from_trace);
  CHECK(d->prompts[0].from_trace->output_length == 12);
  CHECK(d->prompts[0].from_trace->hash_ids == 3);
  CHECK(d->prompts[2].line == 4);
  std::string want;
  wl::append_prompt_text(wl::trace_request{0, 1100, 12, {1, 2, 3}, 1}, 512, want);
  CHECK(d->prompts[0].text == want);
  // A prompt file that happens to carry trace-like fields beside its prompt stays prompts.
  const auto prompts = write_file(tmp.path, "p.jsonl",
                                  "{\"workload\": \"hello\", \"input_length\": 5, \"output_length\": 1, \"hash_ids\": []}\n");
  auto p = wl::read_dataset(prompts, {}, diag);
  REQUIRE(p.has_value());
  CHECK_FALSE(p->prompts[0].from_trace);
  // Forced the other way: the trace read as prompts has no "workload" field.
  wl::dataset_config as_prompts;
  as_prompts.format = wl::dataset_format::prompts;
  CHECK(wl::read_dataset(trace_file, as_prompts, diag).error() == ps::error::missing_field);
  // Alibaba's 16-token blocks: the same ids, shorter blocks; 1100 tokens need 69 of them.
  wl::dataset_config small;
  small.trace_block_tokens = 16;
  CHECK(wl::read_dataset(trace_file, small, diag).has_value());
}

TEST_CASE("trace generator: seeded, well-formed, sharing its root and family prefixes, and read back as written", "[workload][trace]") {
  wl::trace_generator_config c;
  c.requests = 400;
  c.rate_per_s = 20;
  c.families = 10;
  c.seed = 3;
  const auto a = wl::generate_trace(c);
  const auto b = wl::generate_trace(c);
  REQUIRE(a.size() == 400);
  c.seed = 4;
  const auto other = wl::generate_trace(c);
  CHECK(wl::to_trace_jsonl(a) == wl::to_trace_jsonl(b));
  CHECK(wl::to_trace_jsonl(a) != wl::to_trace_jsonl(other));
  std::size_t shared_second = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& q = a[i];
    CHECK(q.hash_ids.size() == (q.input_length + 511) / 512);  // every block named, none too many
    CHECK(q.hash_ids.front() == 0);                             // the shared system prompt
    if (i > 0) CHECK(q.timestamp_ms >= a[i - 1].timestamp_ms);
    if (q.hash_ids.size() > 1)
      for (std::size_t j = 0; j < i; ++j)
        if (a[j].hash_ids.size() > 1 && a[j].hash_ids[1] == q.hash_ids[1]) {
          ++shared_second;
          break;
        }
  }
  // Families repeat: most requests share a second block with an earlier one.
  CHECK(shared_second > 300);
  // 400 requests at 20/s span about 20 s.
  CHECK(a.back().timestamp_ms > 15'000);
  CHECK(a.back().timestamp_ms < 25'000);
  temp_dir tmp("trace-gen");
  ps::diagnostics diag;
  REQUIRE_FALSE(wl::write_trace(tmp.path / "g.jsonl", a, diag));
  auto back = wl::read_trace(tmp.path / "g.jsonl", {}, diag);
  INFO(diag.message);
  REQUIRE(back.has_value());
  REQUIRE(back->requests.size() == a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(back->requests[i].hash_ids == a[i].hash_ids);
    CHECK(back->requests[i].input_length == a[i].input_length);
    CHECK(back->requests[i].output_length == a[i].output_length);
    CHECK(back->requests[i].timestamp_ms == a[i].timestamp_ms);
  }
}
