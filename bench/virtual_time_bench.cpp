// SPDX-License-Identifier: MIT
// virtual_time_bench: a whole `pswm run --sim --virtual-time` at 8, 64 and 1,024 nodes: simulated
// requests per wall-clock second (and per CPU second: the machine is shared), peak RSS, and how
// much faster than real time the run went.
//
//   virtual_time_bench [--nodes 8,64,1024] [--requests-per-node 40] [--rate-per-node 1.5] [--policy lb]
//
// Each size runs in a child process, so its peak RSS is its own. The workload is a generated
// Mooncake-format trace (shared system prompt, Zipf-popular families of shared prefixes,
// lognormal lengths: 2,000-token inputs and 200-token outputs on average) on the A100-80GB
// Llama-3.1-8B profile.
#include <planetserve/experiment/runner.hpp>
#include <planetserve/sim/profile.hpp>
#include <planetserve/workload/trace.hpp>
#include <planetserve/workload/trace_generator.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace ex = planetserve::experiment;
namespace wl = planetserve::workload;
namespace fs = std::filesystem;

namespace {

struct options {
  std::vector<std::size_t> nodes{8, 64, 1024};
  std::size_t requests_per_node = 40;
  double rate_per_node = 1.5;
  std::string policy = "lb";
};

std::vector<std::size_t> parse_list(const char* s) {
  std::vector<std::size_t> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoul(item));
  return out;
}

/// One run at `nodes` nodes; prints one table row. Runs in a child process.
int run_size(const options& o, std::size_t nodes) {
  const fs::path dir = fs::temp_directory_path() / ("pswm_vt_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  wl::trace_generator_config tg;
  tg.requests = nodes * o.requests_per_node;
  tg.rate_per_s = o.rate_per_node * static_cast<double>(nodes);
  tg.input_tokens_mean = 2000;
  tg.output_tokens_mean = 200;
  tg.families = 20 * nodes;
  tg.seed = 1;
  planetserve::diagnostics diag;
  const fs::path trace = dir / "trace.jsonl";
  if (wl::write_trace(trace, wl::generate_trace(tg), diag)) {
    std::fprintf(stderr, "%s\n", diag.message.c_str());
    return 1;
  }
  ex::run_config cfg;
  cfg.dataset_file = trace;
  cfg.output_dir = dir / "out";
  cfg.policies = {o.policy};
  cfg.virtual_time = true;
  cfg.virtual_nodes.num_nodes = nodes;
  cfg.virtual_nodes.node = planetserve::sim::node_config::from_profile(*planetserve::sim::find_profile("llama-3.1-8b-a100-80gb"));
  cfg.virtual_nodes.node.enable_prompt_tokens_details = true;
  cfg.metrics_interval = std::chrono::duration<double>(1.0);
  cfg.progress = false;
  cfg.render_figures = false;
  boost::asio::io_context io;
  std::ostringstream log;
  ex::runner r(io.get_executor(), cfg, log);
  const auto t0 = std::chrono::steady_clock::now();
  boost::system::error_code rc;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        if ((rc = r.prepare(diag))) co_return;
        if ((rc = co_await r.async_preflight(diag))) co_return;
        rc = co_await r.async_run(diag);
      },
      boost::asio::detached);
  io.run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (rc) {
    std::fprintf(stderr, "run failed: %s\n", diag.message.c_str());
    return 1;
  }
  const auto& s = r.results().front().summary;
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  // CPU time too: on a shared machine the wall time says as much about the neighbours.
  const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::printf("%6zu  %9zu  %9.1f  %8.1f  %10.0f  %8.1f  %10.0f  %8.1f  %9.0f  %6.3f  %8.3f\n", nodes, s.requests,
              s.duration_s, wall, static_cast<double>(s.requests) / wall, cpu, static_cast<double>(s.requests) / cpu,
              s.duration_s / wall, static_cast<double>(ru.ru_maxrss) / 1024.0, s.prefix_hit_ratio, s.ttft_mean_s);
  std::fflush(stdout);
  fs::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--nodes") o.nodes = parse_list(argv[i + 1]);
    else if (flag == "--requests-per-node") o.requests_per_node = std::stoul(argv[i + 1]);
    else if (flag == "--rate-per-node") o.rate_per_node = std::stod(argv[i + 1]);
    else if (flag == "--policy") o.policy = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: virtual_time_bench [--nodes 8,64,1024] [--requests-per-node N] [--rate-per-node R] [--policy P]\n");
      return 2;
    }
  }
  std::printf("policy %s, %zu requests per node, %.2f req/s per node, A100-80GB Llama-3.1-8B\n", o.policy.c_str(),
              o.requests_per_node, o.rate_per_node);
  std::printf(" nodes   requests  virtual_s    wall_s  req/wall_s     cpu_s   req/cpu_s  virt/wall  peak_MiB     hit  ttft_s\n");
  std::fflush(stdout);
  for (std::size_t n : o.nodes) {
    const pid_t pid = ::fork();
    if (pid == 0) std::_Exit(run_size(o, n));
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  }
  return 0;
}
