// SPDX-License-Identifier: MIT
// pswm run: the experiment pipeline (the seed's workload_measurer_online.py, same flags and files).
#include "cli.hpp"
#include "commands.hpp"
#include "sim_fleet_option.hpp"

#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/experiment/runner.hpp>
#include <planetserve/hrtree/tree.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/algorithm/string/split.hpp>
#include <boost/algorithm/string/trim.hpp>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <iostream>

namespace pswm {

namespace {

namespace ex = planetserve::experiment;

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> parts;
  boost::algorithm::split(parts, s, [](char c) { return c == ','; });
  std::vector<std::string> out;
  for (auto& p : parts) {
    boost::algorithm::trim(p);
    if (!p.empty()) out.push_back(p);
  }
  return out;
}

const char* usage =
    "Usage: pswm run --dataset-file FILE [--num-nodes N --base-port P | --endpoints URL,...]\n"
    "                [--average-interval S] [--maxq Q] [--dispatch lb|rr|POLICY[,POLICY...]] [--sim]\n"
    "\n"
    "Sends the dataset's prompts to the nodes under Poisson arrivals, routes each request with the\n"
    "dispatch policy, polls every node's /metrics, and writes log_<dataset>_<interval>/ and\n"
    "fig_<dataset>_<interval>/ (with several policies: one pair per policy plus compare_*/).\n"
    "Earlier results with the same names are moved aside, never overwritten.\n"
    "\n"
    "Examples:\n"
    "  pswm run --sim --num-nodes 4 --dataset-file datasets/mixed.jsonl --dispatch rr,lb\n"
    "  pswm run --num-nodes 8 --base-port 8000 --average-interval 0.5 --maxq 50 \\\n"
    "           --dataset-file datasets/mixed.jsonl --dispatch lb --api-key KEY";

std::string policy_help() {
  std::string h = "routing policy, or a comma list run one after another on the same schedule:";
  for (const auto& p : planetserve::dispatch::known_policies())
    h += "\n  " + std::string(p.name) + ": " + std::string(p.description);
  return h;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  ex::run_config cfg;
  // Counts are read as signed numbers: Boost would wrap "-1" into a huge unsigned value
  // that passes every range check.
  long long num_nodes = 2;
  long long base_port = 8000;
  long long max_new_tokens = 50;
  std::string host = "localhost";
  std::string endpoints, dispatch = "lb", api = "completions", arrival = "poisson", field = "workload";
  std::string dataset, api_key, memory = "lru-blocks";
  double metrics_interval = 0.1, request_timeout = 600, drain_timeout = 10;
  long long maxq = 50, epochs = 1, chunk_tokens = 16, lb_recent = 10, max_connections = 1000;
  bool quiet = false, no_plots = false;
  sim_fleet_option sim;

  cli::po::options_description opts("Options (the seed's first)");
  opts.add_options()
      ("num-nodes", cli::po::value(&num_nodes)->default_value(num_nodes), "number of model servers; node i is at --host:(base-port + i)")
      ("base-port", cli::po::value(&base_port)->default_value(base_port), "port of node 0")
      ("average-interval", cli::po::value(&cfg.average_interval_s)->default_value(0.5), "mean inter-arrival time in seconds (smaller = more load)")
      ("maxq", cli::po::value(&maxq)->default_value(maxq), "requests to send per epoch (at most the dataset's size)")
      ("dataset-file", cli::po::value(&dataset), "JSONL workload, one JSON object per line with a \"workload\" string")
      ("dispatch", cli::po::value(&dispatch)->default_value(dispatch), policy_help().c_str())
      ("max-new-tokens", cli::po::value(&max_new_tokens)->default_value(max_new_tokens), "max_tokens of every request")
      ("host", cli::po::value(&host)->default_value(host), "host of the nodes (with --base-port)")
      ("endpoints", cli::po::value(&endpoints), "comma list of node base URLs (http:// or https://), instead of --host/--base-port/--num-nodes")
      ("model", cli::po::value(&cfg.model), "model name (default: the first of node 0's /v1/models)")
      ("api-key", cli::po::value(&api_key), "Bearer key (default: $OPENAI_API_KEY, else $VLLM_API_KEY); never written to any output")
      ("api", cli::po::value(&api)->default_value(api), "chat | completions: which OpenAI endpoint to call")
      ("field", cli::po::value(&field)->default_value(field), "JSON field holding each prompt (a string, or a messages array)")
      ("skip-bad-lines", cli::po::bool_switch(&cfg.dataset.skip_bad_lines), "skip and count malformed dataset lines instead of stopping")
      ("arrival", cli::po::value(&arrival)->default_value(arrival), "poisson | gamma | constant inter-arrival times")
      ("burstiness", cli::po::value(&cfg.burstiness)->default_value(1.0), "gamma shape: < 1 burstier than Poisson, 1 = Poisson")
      ("seed", cli::po::value(&cfg.seed)->default_value(0), "seed of the arrival times and of the policies' random choices")
      ("metrics-interval", cli::po::value(&metrics_interval)->default_value(metrics_interval, "0.1"), "seconds between /metrics scrapes of each node")
      ("request-timeout", cli::po::value(&request_timeout)->default_value(request_timeout), "seconds a request may take before it is recorded as failed")
      ("max-connections", cli::po::value(&max_connections)->default_value(max_connections),
       "connections open at once to each node; further requests wait for one, and their send lag shows it")
      ("drain-timeout", cli::po::value(&drain_timeout)->default_value(drain_timeout), "after Ctrl-C, seconds to wait for requests in flight")
      ("output-dir", cli::po::value(&cfg.output_dir)->default_value("."), "folder for log_*/, fig_*/ and compare_*/")
      ("epochs", cli::po::value(&epochs)->default_value(epochs), "repeat the workload; prefix caches are reset between epochs (POST /reset_prefix_cache)")
      ("chunk-tokens", cli::po::value(&chunk_tokens)->default_value(chunk_tokens), "tokens per HR-tree block (vLLM's KV block is 16; the seed used 10)")
      ("lb-memory", cli::po::value(&memory)->default_value(memory),
       "how the router models each server's cache: lru-blocks (default: up to the server's KV size, "
       "least recently used blocks forgotten first, as vLLM does) or recent-prompts (the seed's model: "
       "only the last --lb-recent prompts)")
      ("lb-recent", cli::po::value(&lb_recent)->default_value(lb_recent), "prompts each server remembers with --lb-memory recent-prompts")
      ("lb-min-match", cli::po::value(&cfg.policy.lb.min_match_ratio)->default_value(cfg.policy.lb.min_match_ratio, "0.5"),
       "lb counts a node as matching when it holds at least this fraction of the prompt's blocks; "
       "0 is the seed's rule (any shared block), which lets a common instruction preamble pin "
       "every request to the nodes that have served before")
      ("ca-file", cli::po::value(&cfg.ca_file), "PEM CA certificates to trust for https endpoints")
      ("insecure", cli::po::bool_switch(&cfg.insecure), "do not verify TLS certificates (https endpoints)")
      ("no-plots", cli::po::bool_switch(&no_plots), "write the chart scripts but do not run gnuplot")
      ("quiet", cli::po::bool_switch(&quiet), "no progress lines");
  sim.add_options(opts);

  int code = cli::exit_ok;
  auto vm = cli::parse(argc, argv, usage, opts, nullptr, code);
  if (!vm) return code;

  // ---- validate flags, naming each --------------------------------------------------
  if (dataset.empty()) throw cli::usage_error("--dataset-file is required (e.g. --dataset-file datasets/mixed.jsonl)");
  if (!(cfg.average_interval_s > 0) || !std::isfinite(cfg.average_interval_s))
    throw cli::usage_error("--average-interval must be a positive number of seconds");
  if (maxq < 1) throw cli::usage_error("--maxq must be at least 1");
  if (epochs < 1) throw cli::usage_error("--epochs must be at least 1");
  // Infinite durations would overflow the clocks' integer ticks.
  if (!(metrics_interval > 0) || !std::isfinite(metrics_interval))
    throw cli::usage_error("--metrics-interval must be a positive number of seconds");
  if (!(request_timeout > 0) || !std::isfinite(request_timeout))
    throw cli::usage_error("--request-timeout must be a positive number of seconds");
  if (!(drain_timeout >= 0) || !std::isfinite(drain_timeout))
    throw cli::usage_error("--drain-timeout must be a number of seconds, 0 or more");
  if (chunk_tokens < 1) throw cli::usage_error("--chunk-tokens must be at least 1");
  if (lb_recent < 1) throw cli::usage_error("--lb-recent must be at least 1");
  if (max_connections < 1 || max_connections > 1'000'000)
    throw cli::usage_error("--max-connections must be between 1 and 1000000");
  cfg.max_connections_per_node = static_cast<std::size_t>(max_connections);
  if (!(cfg.policy.lb.min_match_ratio >= 0 && cfg.policy.lb.min_match_ratio <= 1))
    throw cli::usage_error("--lb-min-match must be a fraction between 0 and 1");
  if (!(cfg.burstiness > 0) || !std::isfinite(cfg.burstiness)) throw cli::usage_error("--burstiness must be > 0");
  if (max_new_tokens < 1 || max_new_tokens > 10'000'000)
    throw cli::usage_error("--max-new-tokens must be at least 1 (and at most 10000000)");
  cfg.max_new_tokens = static_cast<std::uint32_t>(max_new_tokens);
  if (api == "chat") cfg.api = ex::api_kind::chat;
  else if (api == "completions") cfg.api = ex::api_kind::completions;
  else throw cli::usage_error("--api must be chat or completions, not '" + api + "'");
  if (auto a = planetserve::workload::parse_arrival_process(arrival)) cfg.arrival = *a;
  else throw cli::usage_error("--arrival must be poisson, gamma or constant, not '" + arrival + "'");
  cfg.policies = split_list(dispatch);
  if (cfg.policies.empty()) throw cli::usage_error("--dispatch needs a policy name");
  for (const auto& p : cfg.policies) {
    bool known = false;
    for (const auto& k : planetserve::dispatch::known_policies()) known |= k.name == p;
    if (!known)
      throw cli::usage_error("--dispatch: unknown policy '" + p + "' (known: " +
                             planetserve::dispatch::known_policy_names() + ")");
  }
  if (auto m = planetserve::hrtree::parse_memory_model(memory)) cfg.policy.tree.memory = *m;
  else throw cli::usage_error("--lb-memory must be lru-blocks or recent-prompts, not '" + memory + "'");
  cfg.policy.tree.recent_prompts = static_cast<std::size_t>(lb_recent);
  cfg.policy.tree.chunk_tokens = static_cast<std::size_t>(chunk_tokens);
  cfg.policy.seed = cfg.seed;

  if (!endpoints.empty()) {
    if (vm->count("num-nodes") && !(*vm)["num-nodes"].defaulted())
      throw cli::usage_error("--endpoints and --num-nodes exclude each other: give one");
    if (sim.enabled) throw cli::usage_error("--endpoints and --sim exclude each other: --sim starts its own nodes");
    cfg.endpoints = split_list(endpoints);
    if (cfg.endpoints.empty()) throw cli::usage_error("--endpoints needs at least one URL");
  } else {
    if (num_nodes < 1 || num_nodes > 65535) throw cli::usage_error("--num-nodes must be between 1 and 65535");
    // With --sim, port 0 asks for ephemeral ports.
    const bool ephemeral = sim.enabled && base_port == 0;
    if (!ephemeral && (base_port < 1 || base_port + num_nodes - 1 > 65535))
      throw cli::usage_error("--base-port: ports " + std::to_string(base_port) + ".." +
                             std::to_string(base_port + num_nodes - 1) + " are out of range (1..65535)" +
                             (sim.enabled ? "; 0 with --sim picks free ports" : ""));
    if (!sim.enabled)
      for (long long i = 0; i < num_nodes; ++i)
        cfg.endpoints.push_back("http://" + host + ":" + std::to_string(base_port + i));
  }
  cfg.maxq = static_cast<std::size_t>(maxq);
  cfg.epochs = static_cast<std::size_t>(epochs);
  cfg.metrics_interval = std::chrono::duration<double>(metrics_interval);
  cfg.request_timeout = std::chrono::duration<double>(request_timeout);
  cfg.drain_timeout = std::chrono::duration<double>(drain_timeout);
  cfg.dataset_file = dataset;
  cfg.dataset.field = field;
  cfg.progress = !quiet;
  cfg.render_figures = !no_plots;
  if (api_key.empty())
    if (const char* k = std::getenv("OPENAI_API_KEY"); k && *k) api_key = k;
  if (api_key.empty())
    if (const char* k = std::getenv("VLLM_API_KEY"); k && *k) api_key = k;
  cfg.api_key = api_key;
  sim.load_tokenizer();
  cfg.tokenizer = sim.tokenizer;

  // ---- run ---------------------------------------------------------------------------
  boost::asio::io_context io(1);  // one thread runs everything (as driver_bench measures it)
  planetserve::diagnostics diag;
  std::optional<sim_fleet_handle> fleet;
  if (sim.enabled) {
    fleet.emplace();
    if (auto ec = fleet->start(io.get_executor(), sim, static_cast<unsigned>(num_nodes),
                               host == "localhost" ? "127.0.0.1" : host, static_cast<unsigned>(base_port), api_key,
                               cfg.seed, diag)) {
      std::cerr << "pswm run: --sim: " << diag.message << "\n";
      return cli::exit_failure;
    }
    cfg.endpoints = fleet->urls();
    std::cout << "pswm: started " << cfg.endpoints.size() << " emulated node(s) (profile " << sim.profile
              << "): " << cfg.endpoints.front() << (cfg.endpoints.size() > 1 ? " ..." : "") << "\n";
  }

  ex::runner runner(io.get_executor(), cfg, std::cout);
  if (auto ec = runner.prepare(diag)) {
    std::cerr << "pswm run: " << diag.message << "\n";
    return ec == planetserve::error::invalid_argument ? cli::exit_usage : cli::exit_failure;
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  int interrupts = 0;
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (++interrupts >= 2) {
      // requests.jsonl is flushed line by line: nothing already finished is lost.
      std::cerr << "\npswm: second interrupt: exiting now\n";
      // Messages still buffered (stdout redirected to a file) go out; this runs as an
      // ordinary handler on the io thread, not inside the signal, so flushing is safe.
      std::cout << std::flush;
      runner.flush_request_log();  // whole lines only: nothing half-written is left behind
      std::_Exit(130);
    }
    runner.request_stop();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  int rc = cli::exit_ok;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        if (auto ec = co_await runner.async_preflight(diag)) {
          std::cerr << "pswm run: " << diag.message << "\n";
          rc = cli::exit_failure;
        } else {
          std::cout << "pswm: model " << runner.model() << ", " << runner.request_count()
                    << " requests per epoch\n";
          if (auto ec2 = co_await runner.async_run(diag)) {
            std::cerr << "pswm run: " << diag.message << "\n";
            rc = cli::exit_failure;
          }
        }
        signals.cancel();
        if (fleet) co_await fleet->async_stop();
      },
      boost::asio::detached);
  io.run();
  if (rc == cli::exit_ok && runner.stop_requested()) rc = 130;
  return rc;
}

}  // namespace pswm
