// SPDX-License-Identifier: MIT
// Cost of emulating vLLM: engine steps per second at a given batch, and /metrics rendering.
#include <planetserve/sim/engine.hpp>
#include <planetserve/sim/metrics_writer.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

using namespace planetserve::sim;

namespace {

// Keeps `batch` requests decoding: each finished one is replaced by a new request that
// shares a 512-token prefix, so prefix-cache lookups and allocation are exercised too.
void BM_engine_step(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  auto cfg = engine_config::from_profile(default_profile());
  cfg.max_num_seqs = 1024;
  cfg.max_num_batched_tokens = 8192;
  engine e(cfg);
  std::vector<planetserve::tokenize::token_id> prompt(640);
  for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<planetserve::tokenize::token_id>(i);
  std::uint64_t next_id = 0;
  planetserve::diagnostics diag;
  sampling_params p;
  p.max_tokens = 128;
  p.ignore_eos = true;
  auto add_one = [&](time_point now) {
    auto pr = prompt;
    for (std::size_t i = 512; i < pr.size(); ++i) pr[i] = static_cast<planetserve::tokenize::token_id>(next_id * 977 + i);
    (void)e.add_request(std::to_string(next_id++), std::move(pr), p, now, diag);
  };
  for (std::size_t i = 0; i < batch; ++i) add_one(time_point{0});
  std::size_t tokens = 0, requests = 0;
  for (auto _ : state) {
    const auto t = e.next_step_time().value_or(time_point{0});
    auto res = e.step(t);
    for (const auto& o : res.outputs) {
      tokens += o.tokens.size();
      if (o.finished) {
        ++requests;
        add_one(res.end);
      }
    }
    benchmark::DoNotOptimize(res);
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  // Requests completed per second of CPU, adding the next one included.
  state.counters["requests/s"] = benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_engine_step)->Arg(1)->Arg(32)->Arg(256)->Arg(1024);

// Arg 0: an idle engine (every count 0). Arg 1: after serving 500 requests, so counts,
// sums and bucket totals are the non-trivial numbers a scrape under load formats.
void BM_metrics_page(benchmark::State& state) {
  engine e(engine_config::from_profile(default_profile()));
  if (state.range(0) == 1) {
    planetserve::diagnostics diag;
    sampling_params p;
    p.max_tokens = 16;
    p.ignore_eos = true;
    time_point now{0};
    for (int r = 0; r < 500; ++r) {
      std::vector<planetserve::tokenize::token_id> prompt(100 + r % 300);
      for (std::size_t i = 0; i < prompt.size(); ++i)
        prompt[i] = static_cast<planetserve::tokenize::token_id>(r * 1000 + static_cast<int>(i));
      (void)e.add_request(std::to_string(r), std::move(prompt), p, now, diag);
      while (auto t = e.next_step_time()) now = e.step(*t).end;
    }
  }
  metrics_page_config cfg;
  cfg.names = metric_names::both;
  std::string out;
  for (auto _ : state) {
    out.clear();
    write_metrics(view_of(e), cfg, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_metrics_page)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
