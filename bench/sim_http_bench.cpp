// SPDX-License-Identifier: MIT
// Cost of the emulator's HTTP front: requests per second of one node (instant profile) and its client on one core.
//
// In-process by default (client and node share the thread, so the time per request covers
// both). With SIM_HTTP_BENCH_URL=http://host:port the client drives an external node
// instead (e.g. `pswm sim --profile instant`), whose own CPU can then be read from
// /proc/<pid>/stat: that is the emulator's cost alone.
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/openai/stream_completion.hpp>
#include <planetserve/sim/fleet.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>

// GCC 12 reports a false -Wmismatched-new-delete on coroutine frames (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace oa = planetserve::openai;
namespace sim = planetserve::sim;

asio::awaitable<void> worker(ps::http::client& c, const std::string& body, int requests, std::size_t& failures) {
  oa::call call;
  call.body = body;
  call.record_chunk_times = false;
  oa::stream_result out;
  for (int i = 0; i < requests; ++i) {
    out.reset();
    co_await oa::async_stream_completion(c, call, out, {});
    if (!out.ok()) ++failures;
  }
}

// range(0): concurrent clients; range(1): max_tokens; range(2): 1 = streamed.
void BM_sim_http_instant(benchmark::State& state) {
  const int concurrency = static_cast<int>(state.range(0));
  const auto max_tokens = static_cast<unsigned>(state.range(1));
  const bool stream = state.range(2) != 0;
  constexpr int per_iteration = 2000;

  asio::io_context io(1);
  std::optional<sim::fleet> nodes;
  std::string url;
  if (const char* ext = std::getenv("SIM_HTTP_BENCH_URL")) {
    url = ext;
  } else {
    sim::fleet_config fc;
    fc.node = sim::node_config::from_profile(*sim::find_profile("instant"));
    nodes.emplace(io.get_executor(), fc);
    ps::diagnostics diag;
    if (nodes->start(diag)) throw std::runtime_error(diag.message);
    url = nodes->urls().at(0);
  }
  ps::diagnostics diag;
  auto client = ps::http::client::create(io.get_executor(), url, {}, diag);
  if (!client) throw std::runtime_error(diag.message);

  oa::request_options opt;
  opt.model = "meta-llama/Llama-3.1-8B-Instruct";
  opt.max_tokens = max_tokens;
  opt.ignore_eos = true;
  opt.stream = stream;
  opt.include_usage = stream;
  std::string prompt;
  for (int i = 0; i < 60; ++i) prompt += " shared system prompt word" + std::to_string(i);
  std::string body;
  oa::build_completions_body(opt, prompt + " question", body);

  std::size_t failures = 0;
  for (auto _ : state) {
    int running = concurrency;
    for (int w = 0; w < concurrency; ++w)
      asio::co_spawn(io, worker(*client, body, per_iteration / concurrency, failures), [&](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
        if (--running == 0) io.stop();
      });
    io.run();
    io.restart();
  }
  if (failures) state.SkipWithError("some requests failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * (per_iteration / concurrency) * concurrency);
  client->shutdown();
  if (nodes) nodes->stop();
  io.run_for(std::chrono::milliseconds(100));
}

}  // namespace

BENCHMARK(BM_sim_http_instant)
    ->Args({1, 16, 1})
    ->Args({64, 16, 1})
    ->Args({256, 16, 1})
    ->Args({64, 128, 1})
    ->Args({64, 16, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
