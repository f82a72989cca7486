// SPDX-License-Identifier: MIT
// sim_validation_bench: the emulator's step-time model against published vLLM measurements (README table).
//
// Each case drives sim::engine in virtual time the way the published benchmark drove vLLM
// (same model, GPU, batch, lengths) and prints the emulator's figure beside the measured one
// with its relative error. Deterministic: no wall-clock time is involved.
#include <planetserve/sim/engine.hpp>
#include <planetserve/sim/profile.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace planetserve::sim;

namespace {

struct loop_result {
  double duration_s = 0;       // first arrival to last token
  double mean_ttft_s = 0;      // arrival to first token
  double mean_tpot_s = 0;      // (e2e - ttft) / (outputs - 1)
  double output_tok_s = 0;     // output tokens / duration
};

profile must(const std::string& model, const std::string& gpu) {
  planetserve::diagnostics d;
  auto p = choose_profile({.profile = "", .model = model, .gpu = gpu, .tensor_parallel_size = 1}, d);
  if (!p) {
    std::fprintf(stderr, "sim_validation_bench: %s\n", d.message.c_str());
    std::exit(1);
  }
  return *p;
}

// `concurrency` requests kept in flight (a finished one is replaced at once), `total` in all,
// each `in` distinct prompt tokens and exactly `out` outputs; as `vllm bench serve
// --max-concurrency` or, with concurrency = total, `benchmark_latency`'s one batch.
loop_result closed_loop(engine_config cfg, std::size_t concurrency, std::size_t total, std::size_t in, std::size_t out) {
  engine e(std::move(cfg));
  planetserve::diagnostics d;
  sampling_params sp;
  sp.max_tokens = out;
  sp.ignore_eos = true;
  std::size_t sent = 0, done = 0;
  std::vector<double> arrival(total, 0), first(total, 0);
  double ttft_sum = 0, tpot_sum = 0, last_end = 0;
  auto send = [&](time_point now) {
    std::vector<planetserve::tokenize::token_id> prompt(in);
    for (std::size_t i = 0; i < in; ++i) prompt[i] = static_cast<planetserve::tokenize::token_id>(sent * 131071 + i);
    arrival[sent] = std::chrono::duration<double>(now).count();
    if (e.add_request(std::to_string(sent), std::move(prompt), sp, now, d)) {
      std::fprintf(stderr, "sim_validation_bench: %s\n", d.message.c_str());
      std::exit(1);
    }
    ++sent;
  };
  while (sent < concurrency && sent < total) send(time_point{});
  while (auto t = e.next_step_time()) {
    const auto res = e.step(*t);
    const double end = std::chrono::duration<double>(res.end).count();
    for (const auto& o : res.outputs) {
      const std::size_t i = std::stoul(o.id);
      if (o.first_token) first[i] = end;
      if (!o.finished) continue;
      ttft_sum += first[i] - arrival[i];
      tpot_sum += (end - first[i]) / static_cast<double>(out - 1);
      last_end = end;
      ++done;
      if (sent < total) send(res.end);
    }
  }
  loop_result r;
  r.duration_s = last_end;
  r.mean_ttft_s = ttft_sum / static_cast<double>(done);
  r.mean_tpot_s = tpot_sum / static_cast<double>(done);
  r.output_tok_s = static_cast<double>(done * out) / last_end;
  return r;
}

void row(const char* what, const char* source, double published, double emulated, const char* unit) {
  const double err = (emulated - published) / published * 100.0;
  std::printf("| %s | %s | %.1f %s | %.1f %s | %+.1f%% |\n", what, source, published, unit, emulated, unit, err);
}

}  // namespace

int main() {
  std::printf("| measurement | source | published | emulator | error |\n|---|---|---:|---:|---:|\n");

  // vLLM CI performance suite, latency_llama8B_tp1: benchmark_latency (offline LLM class)
  // with its defaults: batch 8, 32 input and 128 output tokens, on an A100-SXM4-80GB.
  {
    auto cfg = engine_config::from_profile(must("llama-3.1-8b", "A100-80GB"));
    cfg.max_num_batched_tokens = 8192;  // vLLM's LLM-class default on A100
    const auto r = closed_loop(cfg, 8, 8, 32, 128);
    row("latency_llama8B_tp1: batch 8, 32 in / 128 out, end to end", "vLLM CI", 1585, r.duration_s * 1e3, "ms");
  }
  // John Musgrave's sweep: vllm serve on an A100 40GB, 1024 in / 128 out, --ignore-eos.
  double c1 = 0;
  {
    const auto r = closed_loop(engine_config::from_profile(must("llama-3.1-8b", "A100-40GB")), 1, 20, 1024, 128);
    c1 = r.output_tok_s;
    row("batch-1 decode, A100-40GB, 1024 in / 128 out", "Musgrave", 75, 1.0 / r.mean_tpot_s, "tok/s");
  }
  {
    const auto r = closed_loop(engine_config::from_profile(must("llama-3.1-8b", "A100-40GB")), 8, 160, 1024, 128);
    row("throughput gain of concurrency 8 over 1, A100-40GB", "Musgrave", 6.6, r.output_tok_s / c1, "x");
  }
  // Time to first token of one uncached prompt on an idle A100-80GB (no published
  // single-request figure is quoted: printed for the README's derivation).
  for (std::size_t len : {1024u, 4096u}) {
    const auto r = closed_loop(engine_config::from_profile(must("llama-3.1-8b", "A100-80GB")), 1, 1, len, 2);
    std::printf("| TTFT of one %zu-token prompt, A100-80GB | (emulator) | - | %.1f ms | - |\n", len, r.mean_ttft_s * 1e3);
  }
  return 0;
}
