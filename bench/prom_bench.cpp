// SPDX-License-Identifier: MIT
// Parse throughput on realistic vLLM /metrics pages: the monitor's snapshot path, bare parser, page model.
#include <planetserve/prom/page.hpp>
#include <planetserve/prom/parser.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

namespace prom = planetserve::prom;

// The committed test pages, found next to this source (or via PLANETSERVE_PROM_DATA).
std::string load(const char* name) {
  std::filesystem::path dir = std::filesystem::path(__FILE__).parent_path() / ".." / "tests" / "data" / "prom";
  if (const char* env = std::getenv("PLANETSERVE_PROM_DATA")) dir = env;
  std::ifstream in(dir / name, std::ios::binary);
  if (!in) throw std::runtime_error("prom_bench: cannot read " + (dir / name).string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string& page(int which) {
  static const std::string v1 = load("vllm_v1.prom");
  static const std::string dp2 = load("vllm_v1_dp2.prom");
  static const std::string om = load("vllm_v1_openmetrics.prom");
  return which == 0 ? v1 : which == 1 ? dp2 : om;
}

void label(benchmark::State& state, int which) {
  static const char* names[] = {"vllm_v1.prom", "vllm_v1_dp2.prom", "vllm_v1_openmetrics.prom"};
  state.SetLabel(std::string(names[which]) + ", " + std::to_string(page(which).size()) + " bytes");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * page(which).size()));
}

// The monitor's call, 10 times a second per node: one page straight into a snapshot.
void BM_parse_vllm_snapshot(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::string& text = page(which);
  for (auto _ : state) {
    auto snap = prom::parse_vllm_snapshot(text);
    if (!snap) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(snap);
  }
  label(state, which);
}
BENCHMARK(BM_parse_vllm_snapshot)->Arg(0)->Arg(1)->Arg(2);

// The same with a parser and builder kept across scrapes (no per-page setup).
void BM_parse_vllm_snapshot_reused(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::string& text = page(which);
  prom::vllm_snapshot_builder builder;
  prom::parser p(builder);
  for (auto _ : state) {
    p.reset();
    builder.reset();
    p.feed(text);
    if (p.finish()) state.SkipWithError("parse failed");
    auto snap = builder.snapshot();
    benchmark::DoNotOptimize(snap);
  }
  label(state, which);
}
BENCHMARK(BM_parse_vllm_snapshot_reused)->Arg(0);

// Bytes arriving as an HTTP body does: 4 KiB chunks.
void BM_parse_vllm_snapshot_chunked(benchmark::State& state) {
  const std::string& text = page(0);
  prom::vllm_snapshot_builder builder;
  prom::parser p(builder);
  for (auto _ : state) {
    p.reset();
    builder.reset();
    for (std::size_t at = 0; at < text.size(); at += 4096)
      p.feed(std::string_view(text).substr(at, 4096));
    if (p.finish()) state.SkipWithError("parse failed");
    auto snap = builder.snapshot();
    benchmark::DoNotOptimize(snap);
  }
  label(state, 0);
}
BENCHMARK(BM_parse_vllm_snapshot_chunked);

// The owning page model (allocates every name and label).
void BM_parse_page(benchmark::State& state) {
  const std::string& text = page(0);
  for (auto _ : state) {
    auto pg = prom::parse_page(text);
    if (!pg) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(pg);
  }
  label(state, 0);
}
BENCHMARK(BM_parse_page);

}  // namespace

BENCHMARK_MAIN();
