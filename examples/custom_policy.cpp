// SPDX-License-Identifier: MIT
// Example: a policy of one's own, run by the experiment runner beside `rr` and `lb` on 3 emulated nodes.
#include <planetserve/dispatch.hpp>
#include <planetserve/experiment.hpp>
#include <planetserve/sim.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace ps = planetserve;
namespace dispatch = ps::dispatch;

// "first-block": every prompt whose first 16 tokens are equal goes to the same node (a hash of
// them picks it), so a shared system prompt stays cached on one node; skips unavailable nodes.
class first_block_policy final : public dispatch::policy {
 public:
  explicit first_block_policy(const dispatch::policy_config& config)
      : policy(config, /*track_prefixes=*/false) {}
  std::string_view name() const noexcept override { return "first-block"; }

 protected:
  // Called only when some node is available; must return an available one.
  dispatch::decision do_choose(const dispatch::request_view& req, const dispatch::fleet_view&) override {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the first block's ids
    for (std::size_t i = 0; i < req.tokens.size() && i < 16; ++i) h = (h ^ req.tokens[i]) * 1099511628211ull;
    auto node = static_cast<dispatch::node_index>(h % nodes());
    while (!stats(node).available) node = static_cast<dispatch::node_index>((node + 1) % nodes());
    return make_decision(node, dispatch::rule::custom);
  }
};

int main() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "planetserve_custom_policy_example";
  fs::remove_all(dir);
  fs::create_directories(dir);

  // A workload: 60 prompts in 4 families sharing long prefixes (JSONL, one "workload" each).
  {
    std::ofstream out(dir / "prompts.jsonl");
    for (int i = 0; i < 60; ++i)
      out << "{\"workload\": \"System prompt of family " << i % 4 << ": " << std::string(400, char('a' + i % 4))
          << ". Question " << i << "?\"}\n";
  }

  boost::asio::io_context io;
  // Three emulated vLLM nodes (the `instant` profile answers at once) on ephemeral ports.
  ps::sim::fleet_config fc;
  fc.num_nodes = 3;
  fc.node = ps::sim::node_config::from_profile(*ps::sim::find_profile("instant"));
  ps::sim::fleet fleet(io.get_executor(), fc);
  ps::diagnostics diag;
  if (fleet.start(diag)) return std::cerr << diag.message << "\n", 1;

  ps::experiment::run_config cfg;
  cfg.endpoints = fleet.urls();
  cfg.dataset_file = dir / "prompts.jsonl";
  cfg.output_dir = dir / "out";
  cfg.average_interval_s = 0.005;
  cfg.max_new_tokens = 8;
  cfg.progress = false;
  cfg.render_figures = false;
  // The runner makes one policy per run by name; our own name sits beside the built-in ones.
  cfg.custom_policies["first-block"] = [](const dispatch::policy_config& c) {
    return std::make_unique<first_block_policy>(c);
  };
  cfg.policies = {"rr", "lb", "first-block"};

  std::ostringstream log;  // the runner's progress messages; printed on failure
  ps::experiment::runner runner(io.get_executor(), cfg, log);
  boost::system::error_code ec = runner.prepare(diag);
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    if (!ec) ec = co_await runner.async_preflight(diag);
    if (!ec) ec = co_await runner.async_run(diag);
    fleet.stop();  // lets io.run() return
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  if (ec) return std::cerr << ec.message() << ": " << diag.message << "\n" << log.str(), 1;

  std::printf("%-12s %4s %10s %12s  %s\n", "policy", "ok", "TTFT mean", "prefix hits", "requests per node");
  for (const auto& r : runner.results()) {
    std::printf("%-12s %4zu %8.2fms %11.1f%% ", r.policy.c_str(), r.summary.ok, r.summary.ttft_mean_s * 1e3,
                r.summary.prefix_hit_ratio * 100);
    for (const auto& n : r.summary.nodes) std::printf(" %zu", n.requests);
    std::printf("\n");
  }
  std::cout << "outputs under " << cfg.output_dir.string() << "\n";
}
