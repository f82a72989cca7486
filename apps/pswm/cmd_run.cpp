// SPDX-License-Identifier: MIT
// pswm run: the experiment pipeline (the seed's workload_measurer_online.py, same flags and files).
#include "cli.hpp"
#include "commands.hpp"
#include "chat_template_flag.hpp"
#include "kv_events_flags.hpp"
#include "policy_flags.hpp"
#include "server_tokens.hpp"
#include "sim_fleet_option.hpp"

#include <unistd.h>

#include <planetserve/detail/rethrow.hpp>
#include <planetserve/detail/sanitize.hpp>
#include <planetserve/dispatch/kv_event_sink.hpp>
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/experiment/report_files.hpp>
#include <planetserve/experiment/runner.hpp>
#include <planetserve/experiment/sweep_runner.hpp>
#include <planetserve/hrtree/tree.hpp>
#include <planetserve/http/url.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/algorithm/string/split.hpp>
#include <boost/algorithm/string/trim.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <iostream>

namespace pswm {

namespace {

namespace ex = planetserve::experiment;

const char* usage =
    "Usage: pswm run --dataset-file FILE [--num-nodes N --base-port P | --endpoints URL,...]\n"
    "                [--average-interval S] [--maxq Q] [--dispatch lb|rr|POLICY[,POLICY...]] [--sim]\n"
    "\n"
    "Sends the dataset's prompts to the nodes under Poisson arrivals, routes each request with the\n"
    "dispatch policy, polls every node's /metrics, and writes log_<dataset>_<interval>/ and\n"
    "fig_<dataset>_<interval>/ (with several policies: one pair per policy plus compare_*/).\n"
    "Earlier results with the same names are moved aside, never overwritten.\n"
    "\n"
    "A list of loads (--request-rate 1,2,4,8 or --average-interval 1,0.5,0.25) runs every rate with\n"
    "every policy and writes sweep_<dataset>/; --slo searches each policy's highest rate within targets.\n"
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

/// The first SIGINT/SIGTERM/SIGHUP on `signals` calls `stop` (the run stops sending and writes
/// what it measured); a second exits at once with 130, after flushing standard output and
/// calling `flush` (whole lines of requests.jsonl only). Handlers run on the io thread, not
/// inside the signal, so flushing is safe.
void stop_on_signals(boost::asio::signal_set& signals, std::function<void()> stop, std::function<void()> flush = {}) {
  struct state {
    std::function<void()> stop, flush;
    int interrupts = 0;
  };
  auto st = std::make_shared<state>(state{std::move(stop), std::move(flush)});
  struct arm {
    boost::asio::signal_set& signals;
    std::shared_ptr<state> st;
    void operator()() const {
      signals.async_wait([a = *this](const boost::system::error_code& ec, int) {
        if (ec) return;
        if (++a.st->interrupts >= 2) {
          std::cerr << "\npswm: second interrupt: exiting now\n";
          std::cout << std::flush;
          if (a.st->flush) a.st->flush();
          std::_Exit(130);
        }
        a.st->stop();
        a();
      });
    }
  };
  arm{signals, std::move(st)}();
}

/// A load sweep and/or SLO search (several rates, or --slo): one run per policy and rate, then
/// sweep_<dataset>/ with the table and the curves.
int run_sweep(boost::asio::io_context& io, const ex::run_config& cfg, const std::vector<double>& rates,
              const std::optional<ex::slo_spec>& slo, double tolerance, std::optional<sim_fleet_handle>& fleet, const ex::report_facts& emulator_facts) {
  const std::string ds = ex::dataset_label(cfg.dataset_file);
  const auto dir = cfg.output_dir / ("sweep_" + ds);
  planetserve::diagnostics diag;
  auto moved = ex::move_aside(dir, diag);
  if (!moved) {
    std::cerr << "pswm run: " << diag.message << "\n";
    return cli::exit_failure;
  }
  if (*moved) std::cout << "pswm: kept earlier sweep: moved " << dir.string() << " to " << (*moved)->string() << "\n";
  ex::sweep_runner sweeper(io.get_executor(), cfg, dir, std::cout);
  if (!emulator_facts.empty()) sweeper.set_emulator_facts(emulator_facts);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  stop_on_signals(signals, [&] { sweeper.request_stop(); });
  int rc = cli::exit_ok;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        boost::system::error_code ec;
        // With an SLO and a single rate, only the search runs; with a list, the sweep first.
        if (rates.size() > 1) ec = co_await sweeper.async_sweep(rates, diag);
        if (!ec && slo && !sweeper.stop_requested())
          ec = co_await sweeper.async_slo_search(*slo, rates.front(), rates.size() > 1 ? rates.back() : rates.front() * 1024,
                                                 tolerance, diag);
        if (ec && ec != planetserve::error::cancelled) {
          std::cerr << "pswm run: " << diag.message << "\n";
          rc = ec == planetserve::error::file_unwritable ? cli::exit_incomplete : cli::exit_failure;
        }
        if (!sweeper.points().empty()) {
          planetserve::diagnostics wd;
          if (ex::write_sweep_outputs(dir, ds, sweeper.points(), slo, tolerance, sweeper.searches(), cfg.render_figures,
                                      emulator_facts, std::cout, wd)) {
            std::cerr << "pswm run: " << wd.message << "\n";
            if (rc == cli::exit_ok) rc = cli::exit_incomplete;
          }
          std::cout << "===== sweep (" << ds << ") =====\n"
                    << ex::sweep_text(sweeper.points(), slo, sweeper.searches()) << "Sweep: " << dir.string() << "/\n";
        }
        signals.cancel();
        if (fleet) co_await fleet->async_stop();
      },
      planetserve::detail::rethrow_exception{});
  io.run();
  if (rc == cli::exit_ok && sweeper.stop_requested()) rc = 130;
  return rc;
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
  kv_events_flags kv_flags;
  std::string endpoints, dispatch = "lb", api = "chat", arrival = "poisson", field = "workload", format = "auto", history = "live", think_time = "0";
  long long trace_block_tokens = 512;
  double time_scale = 1.0;
  // Paths are read as strings: program_options' path conversion stops at the first space.
  std::string dataset, api_key, output_dir = ".";
  double metrics_interval = 0.1, request_timeout = 600, drain_timeout = 10, retry_backoff = 0.05, no_node_wait = 30;
  long long max_retries = 2, breaker_failures = 3;
  long long maxq = 50, epochs = 1, max_connections = 1000;
  bool quiet = false, no_plots = false, ignore_eos = false, no_ignore_eos = false;
  std::vector<std::string> goodput;
  long long max_concurrency = 0;
  std::string ramp, chat_template = "none";
  std::string average_interval = "0.5", request_rate, slo_text;
  double slo_tolerance = 0.1;
  sim_fleet_option sim;
  policy_flags pflags;

  cli::po::options_description opts("Options (the seed's first)");
  opts.add_options()
      ("num-nodes", cli::po::value(&num_nodes)->default_value(num_nodes), "number of model servers; node i is at --host:(base-port + i)")
      ("base-port", cli::po::value(&base_port)->default_value(base_port), "port of node 0")
      ("average-interval", cli::po::value(&average_interval)->default_value(average_interval),
       "mean inter-arrival time in seconds (smaller = more load); a comma list (decreasing, e.g. 1,0.5,0.25) "
       "runs a load sweep")
      ("request-rate", cli::po::value(&request_rate),
       "offered load in req/s instead of --average-interval; a comma list (increasing, e.g. 1,2,4,8,16) runs "
       "every rate with every --dispatch policy on the same prompts, caches reset in between, and writes "
       "sweep_<dataset>/ (sweep.json, sweep.txt, curves against load; each point's run in <policy>/rate_<R>/)")
      ("slo", cli::po::value(&slo_text),
       "latency targets of a whole run, e.g. \"p99_ttft_ms<=500,p99_tpot_ms<=50\": for each policy, search the "
       "highest rate meeting all of them, from the lowest rate of the list (doubling until a run fails, then "
       "bisecting) up to its highest (one rate given: up to 1024 times it); the boundary is rerun with --seed + 1. "
       "Metrics: mean_/p50_/p99_ ttft_ms, e2el_ms; mean_/p99_ tpot_ms, itl_ms; request_throughput, "
       "prefix_hit_ratio, goodput (with --goodput)")
      ("slo-tolerance", cli::po::value(&slo_tolerance)->default_value(slo_tolerance, "0.1"),
       "the SLO search stops when the first failing rate is within this fraction above the last passing one")
      ("maxq", cli::po::value(&maxq)->default_value(maxq), "requests to send per epoch (at most the dataset's size)")
      ("dataset-file", cli::po::value(&dataset), "JSONL workload, one JSON object per line with a \"workload\" string")
      ("dispatch", cli::po::value(&dispatch)->default_value(dispatch), policy_help().c_str())
      ("max-new-tokens", cli::po::value(&max_new_tokens)->default_value(max_new_tokens), "max_tokens of every request")
      ("host", cli::po::value(&host)->default_value(host), "host of the nodes (with --base-port)")
      ("endpoints", cli::po::value(&endpoints), "comma list of node base URLs (http:// or https://), instead of --host/--base-port/--num-nodes")
      ("model", cli::po::value(&cfg.model), "model name (default: the first of node 0's /v1/models)")
      ("api-key", cli::po::value(&api_key), "Bearer key (default: $OPENAI_API_KEY, else $VLLM_API_KEY); never written to any output")
      ("api", cli::po::value(&api)->default_value(api), "chat | completions: which OpenAI endpoint to call (chat, as the seed)")
      ("ignore-eos", cli::po::bool_switch(&ignore_eos),
       "send ignore_eos: every request generates exactly --max-new-tokens, so policies compared on one "
       "schedule do the same work. Default: on when --dispatch lists several policies, else off (the seed "
       "does not send it)")
      ("no-ignore-eos", cli::po::bool_switch(&no_ignore_eos), "never send ignore_eos, even when comparing policies")
      ("field", cli::po::value(&field)->default_value(field), "JSON field holding each prompt (a string, or a messages array)")
      ("skip-bad-lines", cli::po::bool_switch(&cfg.dataset.skip_bad_lines), "skip and count malformed dataset lines instead of stopping")
      ("format", cli::po::value(&format)->default_value(format),
       "auto | prompts | mooncake | sessions: what --dataset-file holds. auto: a Mooncake trace when its first "
       "line has input_length, output_length and hash_ids and not --field; conversations (sessions, replayed "
       "turn by turn) when it has a ShareGPT `conversations` array and not --field; else prompts. --maxq caps "
       "the sessions")
      ("trace-block-tokens", cli::po::value(&trace_block_tokens)->default_value(trace_block_tokens),
       "tokens per hash id of a trace (Mooncake's traces: 512; Alibaba's: 16). Each id becomes the same text "
       "wherever it appears, so servers see the trace's prefix sharing")
      ("time-scale", cli::po::value(&time_scale)->default_value(time_scale, "1"),
       "a trace's arrivals follow its timestamps, gaps multiplied by this (0.1 = ten times faster); "
       "give --arrival to use an arrival process instead")
      ("arrival", cli::po::value(&arrival)->default_value(arrival), "poisson | gamma | constant inter-arrival times")
      ("burstiness", cli::po::value(&cfg.burstiness)->default_value(1.0), "gamma shape: < 1 burstier than Poisson, 1 = Poisson")
      ("seed", cli::po::value(&cfg.seed)->default_value(0), "seed of the arrival times and of the policies' random choices")
      ("metrics-interval", cli::po::value(&metrics_interval)->default_value(metrics_interval, "0.1"),
       "seconds between /metrics scrapes of each node (--virtual-time without this flag: max(0.1, nodes/1000), "
       "about 1,000 pages per simulated second in all)")
      ("request-timeout", cli::po::value(&request_timeout)->default_value(request_timeout), "seconds a request may take before it is recorded as failed")
      ("max-connections", cli::po::value(&max_connections)->default_value(max_connections),
       "connections open at once to each node; further requests wait for one, and their send lag shows it")
      ("drain-timeout", cli::po::value(&drain_timeout)->default_value(drain_timeout), "after Ctrl-C, seconds to wait for requests in flight")
      ("max-retries", cli::po::value(&max_retries)->default_value(max_retries),
       "send a request again (to the node the policy then picks) when its connection failed before any "
       "response byte; recorded as `retries`. 0: never (a reset request is a failure)")
      ("retry-backoff", cli::po::value(&retry_backoff)->default_value(retry_backoff, "0.05"), "seconds before the first retry, doubled for each further one")
      ("breaker-failures", cli::po::value(&breaker_failures)->default_value(breaker_failures),
       "consecutive connection failures or timeouts that take a node out until /health answers 200 "
       "(a failed /health check after any connection failure takes it out at once); 0: only /health decides")
      ("no-node-wait", cli::po::value(&no_node_wait)->default_value(no_node_wait),
       "while every node is out, a due request waits this many seconds for one to come back (its send "
       "lag shows the wait), then is recorded as no_node_available")
      ("allow-duplicate-endpoints", cli::po::bool_switch(&cfg.allow_duplicate_endpoints),
       "accept endpoints that name the same server (e.g. localhost:8000 and 127.0.0.1:8000) as separate nodes")
      ("max-concurrency", cli::po::value(&max_concurrency)->default_value(max_concurrency),
       "requests in flight across all nodes at most (vLLM bench's): a request due while this many are in "
       "flight waits for one to end, and its send lag shows the wait. 0: no cap")
      ("ramp-up-rate", cli::po::value(&ramp),
       "R0:R1: the request rate rises (or falls) linearly from R0 to R1 req/s over the run, instead of "
       "--average-interval; --arrival shapes the gaps (poisson: a non-homogeneous Poisson process)")
      ("goodput", cli::po::value(&goodput)->multitoken(),
       "latency bounds in ms, as vLLM bench's: ttft:MS,tpot:MS,e2el:MS (or space-separated). The summaries "
       "and comparison add goodput: completed requests meeting every given bound, per second of the run")
      ("output-dir", cli::po::value(&output_dir)->default_value(output_dir), "folder for log_*/, fig_*/ and compare_*/ (any name: spaces, quotes and non-ASCII are fine)")
      ("epochs", cli::po::value(&epochs)->default_value(epochs), "repeat the workload; prefix caches are reset between epochs (POST /reset_prefix_cache)")
      ("ca-file", cli::po::value(&cfg.ca_file), "PEM CA certificates to trust for https endpoints")
      ("insecure", cli::po::bool_switch(&cfg.insecure), "do not verify TLS certificates (https endpoints)")
      ("no-plots", cli::po::bool_switch(&no_plots), "write the chart scripts but do not run gnuplot")
      ("quiet", cli::po::bool_switch(&quiet), "no progress lines")
      ("history", cli::po::value(&history)->default_value(history),
       "conversations (--format sessions): live: a turn's history holds the replies this run received; "
       "dataset: the dataset's own replies")
      ("think-time", cli::po::value(&think_time)->default_value(think_time),
       "conversations: the pause between a reply and the next turn, seconds: S, const:S, exp:MEAN or "
       "uniform:A:B (seeded by --seed)")
      ("virtual-time", cli::po::bool_switch(&cfg.virtual_time),
       "with --sim: run the emulated engines in-process under a discrete-event clock: no sockets, no "
       "sleeping, as fast as the CPU allows. Writes the same files as a real-time --sim run, every time in "
       "simulated seconds; run.json says \"clock\": \"virtual\" and the summary says so")
      ("chat-template", cli::po::value(&chat_template)->default_value(chat_template),
       (std::string(chat_template_flag_help) + ". Encoded with --tokenizer: give the served model's tokenizer.json "
        "(the default approximate tokenizer matches only pswm sim's nodes). For real servers; refused with --sim, "
        "whose nodes' ids are known, and with `--tokenizer server`, which asks the server instead").c_str());
  pflags.add_options(opts);
  kv_flags.add_options(opts, true);
  sim.add_options(opts);

  int code = cli::exit_ok;
  auto vm = cli::parse(argc, argv, usage, opts, nullptr, code);
  if (!vm) return code;

  // ---- validate flags, naming each --------------------------------------------------
  if (dataset.empty()) throw cli::usage_error("--dataset-file is required (e.g. --dataset-file datasets/mixed.jsonl)");
  // Durations are bounded (10^7 s, 115 days) so that their clock ticks cannot overflow.
  // A load list: rates in req/s, light to heavy; one value is an ordinary run.
  std::vector<double> rates;
  {
    const bool by_rate = vm->count("request-rate") > 0;
    if (by_rate && !(*vm)["average-interval"].defaulted())
      throw cli::usage_error("--request-rate and --average-interval exclude each other: give one");
    planetserve::diagnostics ldiag;
    auto parsed = ex::parse_load_list(by_rate ? request_rate : average_interval,
                                      by_rate ? "--request-rate" : "--average-interval", ldiag);
    if (!parsed) throw cli::usage_error(ldiag.message);
    rates = *parsed;
    cfg.average_interval_s = 1.0 / rates.front();
    if (!(cfg.average_interval_s > 0) || !(cfg.average_interval_s <= 1e7))
      throw cli::usage_error("--average-interval must be a positive number of seconds, at most 10000000");
  }
  std::optional<ex::slo_spec> slo;
  if (vm->count("slo")) {
    planetserve::diagnostics sdiag;
    auto s = ex::parse_slo(slo_text, sdiag);
    if (!s) throw cli::usage_error("--" + sdiag.message);
    slo = *s;
  }
  if (!(slo_tolerance > 0) || !(slo_tolerance <= 10))
    throw cli::usage_error("--slo-tolerance must be a fraction above 0 (and at most 10), e.g. --slo-tolerance 0.1 "
                           "stops within 10% of the boundary");
  const bool sweep_mode = rates.size() > 1 || slo.has_value();
  if (maxq < 1) throw cli::usage_error("--maxq must be at least 1");
  if (epochs < 1) throw cli::usage_error("--epochs must be at least 1");
  // Infinite durations would overflow the clocks' integer ticks.
  if (!(metrics_interval > 0) || !(metrics_interval <= 1e7))
    throw cli::usage_error("--metrics-interval must be a positive number of seconds, at most 10000000");
  if (!(request_timeout > 0) || !(request_timeout <= 1e7))
    throw cli::usage_error("--request-timeout must be a positive number of seconds, at most 10000000");
  if (!(drain_timeout >= 0) || !(drain_timeout <= 1e7))
    throw cli::usage_error("--drain-timeout must be a number of seconds from 0 to 10000000");
  if (max_retries < 0 || max_retries > 100) throw cli::usage_error("--max-retries must be between 0 and 100");
  if (!(retry_backoff >= 0) || retry_backoff > 60)
    throw cli::usage_error("--retry-backoff must be a number of seconds from 0 to 60");
  if (breaker_failures < 0 || breaker_failures > 1'000'000)
    throw cli::usage_error("--breaker-failures must be 0 (only /health decides) or a count up to 1000000");
  if (!(no_node_wait >= 0) || no_node_wait > 86400)
    throw cli::usage_error("--no-node-wait must be a number of seconds from 0 to 86400");
  cfg.max_retries = static_cast<std::size_t>(max_retries);
  cfg.retry_backoff = std::chrono::duration<double>(retry_backoff);
  cfg.breaker_failures = static_cast<std::size_t>(breaker_failures);
  cfg.no_node_wait = std::chrono::duration<double>(no_node_wait);
  if (max_connections < 1 || max_connections > 1'000'000)
    throw cli::usage_error("--max-connections must be between 1 and 1000000");
  cfg.max_connections_per_node = static_cast<std::size_t>(max_connections);
  if (!(cfg.burstiness > 0) || !std::isfinite(cfg.burstiness)) throw cli::usage_error("--burstiness must be > 0");
  if (max_new_tokens < 1 || max_new_tokens > 10'000'000)
    throw cli::usage_error("--max-new-tokens must be at least 1 (and at most 10000000)");
  cfg.max_new_tokens = static_cast<std::uint32_t>(max_new_tokens);
  if (api == "chat") cfg.api = ex::api_kind::chat;
  else if (api == "completions") cfg.api = ex::api_kind::completions;
  else throw cli::usage_error("--api must be chat or completions, not '" + api + "'");
  if (format == "auto") cfg.dataset.format = planetserve::workload::dataset_format::automatic;
  else if (format == "prompts") cfg.dataset.format = planetserve::workload::dataset_format::prompts;
  else if (format == "mooncake") cfg.dataset.format = planetserve::workload::dataset_format::mooncake;
  else if (format == "sessions") cfg.dataset.format = planetserve::workload::dataset_format::sessions;
  else throw cli::usage_error("--format must be auto, prompts, mooncake or sessions, not '" + format + "'");
  if (history == "live") cfg.history = ex::history_mode::live;
  else if (history == "dataset") cfg.history = ex::history_mode::dataset;
  else throw cli::usage_error("--history must be live or dataset, not '" + history + "'");
  {
    planetserve::diagnostics tdiag;
    auto t = ex::parse_think_time(think_time, tdiag);
    if (!t) throw cli::usage_error("--think-time: " + tdiag.message);
    cfg.think_time = *t;
  }
  if (trace_block_tokens < 1 || trace_block_tokens > 1'000'000)
    throw cli::usage_error("--trace-block-tokens must be between 1 and 1000000 (Mooncake's traces: 512)");
  cfg.dataset.trace_block_tokens = static_cast<std::size_t>(trace_block_tokens);
  if (!(time_scale > 0) || time_scale > 1e6)
    throw cli::usage_error("--time-scale must be a positive number (0.1 replays a trace ten times faster)");
  cfg.time_scale = time_scale;
  cfg.trace_arrivals = !(vm->count("arrival") && !(*vm)["arrival"].defaulted());
  if (auto a = planetserve::workload::parse_arrival_process(arrival)) cfg.arrival = *a;
  else throw cli::usage_error("--arrival must be poisson, gamma or constant, not '" + arrival + "'");
  if (max_concurrency < 0 || max_concurrency > 1'000'000)
    throw cli::usage_error("--max-concurrency must be 0 (no cap) or a count up to 1000000, e.g. --max-concurrency 16");
  cfg.max_concurrency = static_cast<std::size_t>(max_concurrency);
  if (vm->count("ramp-up-rate")) {
    if (!(*vm)["average-interval"].defaulted() || vm->count("request-rate") || sweep_mode)
      throw cli::usage_error("--ramp-up-rate excludes --average-interval, --request-rate and --slo: the ramp sets the rate");
    planetserve::workload::arrival_config ac;
    planetserve::diagnostics rdiag;
    if (planetserve::workload::parse_ramp(ramp, ac, rdiag)) throw cli::usage_error("--ramp-up-rate: " + rdiag.message);
    cfg.ramp_start_rps = ac.ramp_start_rps;
    cfg.ramp_end_rps = ac.ramp_end_rps;
    cfg.trace_arrivals = false;  // the ramp, not a trace's timestamps, sets the send times
  }
  if (vm->count("goodput")) {
    std::string joined;
    for (const auto& g : goodput) joined += (joined.empty() ? "" : " ") + g;
    planetserve::diagnostics gdiag;
    auto spec = ex::parse_goodput(joined, gdiag);
    if (!spec) throw cli::usage_error("--" + gdiag.message);
    cfg.goodput = *spec;
  }
  if (slo)
    for (const auto& c : slo->constraints)
      if (c.metric == "goodput" && !cfg.goodput)
        throw cli::usage_error("--slo names goodput: give its bounds too, e.g. --goodput ttft:500,tpot:50");
  cfg.policies = cli::split_list(dispatch);
  if (cfg.policies.empty()) throw cli::usage_error("--dispatch needs a policy name");
  if (ignore_eos && no_ignore_eos) throw cli::usage_error("--ignore-eos and --no-ignore-eos exclude each other: give one");
  cfg.ignore_eos = ignore_eos || (!no_ignore_eos && (cfg.policies.size() > 1 || sweep_mode));
  for (const auto& p : cfg.policies) {
    bool known = false;
    for (const auto& k : planetserve::dispatch::known_policies()) known |= k.name == p;
    if (!known)
      throw cli::usage_error("--dispatch: unknown policy '" + p + "' (known: " +
                             planetserve::dispatch::known_policy_names() + ")");
  }
  pflags.apply(*vm, cfg.policy);

  if (cfg.virtual_time && !sim.enabled)
    throw cli::usage_error(std::string("--virtual-time needs --sim: only emulated engines run in virtual time") +
                           (!endpoints.empty() ? " (--endpoints names real servers)"
                            : !api_key.empty() ? " (--api-key is for real servers)" : ""));
  if (!endpoints.empty()) {
    if (vm->count("num-nodes") && !(*vm)["num-nodes"].defaulted())
      throw cli::usage_error("--endpoints and --num-nodes exclude each other: give one");
    if (sim.enabled) throw cli::usage_error("--endpoints and --sim exclude each other: --sim starts its own nodes");
    cfg.endpoints = cli::split_list(endpoints);
    if (cfg.endpoints.empty()) throw cli::usage_error("--endpoints needs at least one URL");
  } else {
    if (num_nodes < 1 || num_nodes > 65535) throw cli::usage_error("--num-nodes must be between 1 and 65535");
    // With --sim, port 0 asks for ephemeral ports.
    const bool ephemeral = sim.enabled && base_port == 0;
    if (!ephemeral && (base_port < 1 || base_port + num_nodes - 1 > 65535))
      throw cli::usage_error("--base-port: ports " + std::to_string(base_port) + ".." +
                             std::to_string(base_port + num_nodes - 1) + " are out of range (1..65535)" +
                             (sim.enabled ? "; 0 with --sim picks free ports" : ""));
    // An IPv6 address goes in brackets in a URL (--host ::1 -> http://[::1]:8000); origin() adds them.
    std::string bare = host;
    if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
    if (!sim.enabled)
      for (long long i = 0; i < num_nodes; ++i)
        cfg.endpoints.push_back(
            planetserve::http::url{false, bare, static_cast<std::uint16_t>(base_port + i), "/"}.origin());
  }
  if (sim.enabled && !kv_flags.endpoints.empty())
    throw cli::usage_error("--kv-events-endpoints and --sim exclude each other: --sim nodes publish on their own ports");
  cfg.kv_events = kv_flags.sources(cfg.endpoints.size());
  cfg.maxq = static_cast<std::size_t>(maxq);
  cfg.epochs = static_cast<std::size_t>(epochs);
  cfg.metrics_interval = std::chrono::duration<double>(metrics_interval);
  // In virtual time each scrape renders and parses a whole page: at 0.1 s a thousand nodes
  // would make 10,000 pages per simulated second, most of the run's wall time. Unless the
  // flag was given, a large virtual fleet is scraped about 1,000 times per simulated second
  // in all (each node every nodes/1000 s), never more often than the 0.1 s default.
  if (cfg.virtual_time && !(vm->count("metrics-interval") && !(*vm)["metrics-interval"].defaulted()))
    cfg.metrics_interval =
        std::chrono::duration<double>(std::max(metrics_interval, static_cast<double>(num_nodes) / 1000.0));
  cfg.request_timeout = std::chrono::duration<double>(request_timeout);
  cfg.drain_timeout = std::chrono::duration<double>(drain_timeout);
  cfg.dataset_file = dataset;
  cfg.output_dir = output_dir;
  cfg.dataset.field = field;
  cfg.progress = !quiet;
  // On a terminal one line is redrawn every second; otherwise a plain line every 5 s.
  if (::isatty(1) == 1) {
    cfg.on_progress = [](const ex::progress_report& r) {
      if (r.final) {
        std::cout << "\n";
        return;
      }
      std::cout << "\r" << ex::progress_text(r) << "\033[K" << std::flush;
    };
  } else {
    cfg.on_progress = [tick = 0](const ex::progress_report& r) mutable {
      if (!r.final && ++tick % 5 == 0) std::cout << ex::progress_text(r) << "\n";
    };
  }
  cfg.render_figures = !no_plots;
  if (api_key.empty())
    if (const char* k = std::getenv("OPENAI_API_KEY"); k && *k) api_key = k;
  if (api_key.empty())
    if (const char* k = std::getenv("VLLM_API_KEY"); k && *k) api_key = k;
  cfg.api_key = api_key;
  const bool server_tokenizer = sim.tokenizer_file == "server";
  if (server_tokenizer) {
    if (sim.enabled)
      throw cli::usage_error("--tokenizer server and --sim: --sim routes on its nodes' own ids already; give a "
                             "tokenizer.json or nothing");
  } else {
    sim.load_tokenizer();
  }
  cfg.tokenizer = sim.tokenizer;
  if (chat_template != "none" && sim.enabled)
    throw cli::usage_error("--chat-template and --sim exclude each other: --sim routes on its nodes' own ids already");
  if (chat_template != "none" && server_tokenizer)
    throw cli::usage_error("--chat-template and --tokenizer server exclude each other: the server applies its own "
                           "template; give --tokenizer a tokenizer.json, or drop --chat-template");
  if (const auto tpl = chat_template_flag(chat_template)) {
    // Route on what a node with this template and tokenizer computes, as the emulator's nodes do.
    planetserve::sim::node_config node;
    node.chat = *tpl;
    node.tokenizer = sim.tokenizer;
    cfg.server_tokens = server_tokens_for(node, cfg.api == ex::api_kind::chat);
    std::cout << "pswm: routing on the ids the servers compute: "
              << (cfg.api == ex::api_kind::chat ? "chat template " + planetserve::detail::sanitized(chat_template)
                                                : std::string("BOS, then the prompt"))
              << ", "
              << (sim.tokenizer ? "tokenizer " + planetserve::detail::sanitized(sim.tokenizer_file)
                                : std::string("the approximate tokenizer (exact only against pswm sim; give --tokenizer "
                                              "the served model's tokenizer.json)"))
              << "\n";
  }

  // ---- run ---------------------------------------------------------------------------
  boost::asio::io_context io(1);  // one thread runs everything (as driver_bench measures it)
  planetserve::diagnostics diag;
  std::optional<sim_fleet_handle> fleet;
  ex::report_facts emulator_facts;  // what the emulated nodes are, for report.html
  if (cfg.virtual_time) {
    sim.model = cfg.model;
    if (auto ec = sim.fleet_config(static_cast<unsigned>(num_nodes), "", 0, "", cfg.seed, cfg.virtual_nodes,
                                   emulator_facts, diag)) {
      std::cerr << "pswm run: --sim: " << diag.message << "\n";
      return cli::exit_usage;
    }
    emulator_facts.push_back({"clock", "virtual"});
    std::cout << "pswm: " << num_nodes << " emulated node(s) in virtual time (profile " << emulator_facts.front().second
              << "), /metrics every " << cfg.metrics_interval.count() << " s of simulated time\n";
  } else if (sim.enabled) {
    fleet.emplace();
    // Nodes publish KV events when a policy wants them (vLLM's --kv-events-config).
    for (const auto& name : cfg.policies) {
      auto p = planetserve::dispatch::make_policy(name, planetserve::dispatch::policy_config{});
      sim.kv_events = sim.kv_events || dynamic_cast<planetserve::dispatch::kv_event_sink*>(p.get()) != nullptr;
    }
    sim.model = cfg.model;  // with --sim, --model names the model the nodes emulate
    if (auto ec = fleet->start(io.get_executor(), sim, static_cast<unsigned>(num_nodes),
                               host == "localhost" ? "127.0.0.1" : host, static_cast<unsigned>(base_port), api_key,
                               cfg.seed, diag)) {
      std::cerr << "pswm run: --sim: " << diag.message << "\n";
      return cli::exit_failure;
    }
    cfg.endpoints = fleet->urls();
    emulator_facts = fleet->profile_facts();
    // Route on the ids the nodes compute (their chat template and BOS included), so that
    // predicted and realised cached tokens count the same blocks.
    cfg.server_tokens = fleet->server_tokens(cfg.api == ex::api_kind::chat);
    cfg.kv_events = fleet->kv_events();
    std::cout << "pswm: started " << cfg.endpoints.size() << " emulated node(s) (profile " << fleet->profile_name()
              << "): " << cfg.endpoints.front() << (cfg.endpoints.size() > 1 ? " ..." : "") << "\n";
  }

  if (server_tokenizer) {
    // Node 0's own ids for every distinct prompt, and its block size, before anything is sent.
    planetserve::workload::dataset_config dc = cfg.dataset;
    if (cfg.maxq > 0 && (dc.max_prompts == 0 || dc.max_prompts > cfg.maxq)) dc.max_prompts = cfg.maxq;
    auto ds = planetserve::workload::read_dataset(cfg.dataset_file, dc, diag);
    if (!ds) {
      std::cerr << "pswm run: " << diag.message << "\n";
      return cli::exit_usage;
    }
    auto table = std::make_shared<server_token_table>();
    const bool chat = cfg.api == ex::api_kind::chat;
    boost::system::error_code tec;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          tec = co_await async_fetch_server_tokens(io.get_executor(), cfg.endpoints.front(), cfg.model, api_key, chat,
                                                   ds->prompts, std::cout, *table, diag);
        },
        planetserve::detail::rethrow_exception{});
    io.run();
    io.restart();
    if (tec) {
      std::cerr << "pswm run: " << diag.message << "\n";
      return cli::exit_failure;
    }
    if (table->block_size) {
      const bool given = vm->count("chunk-tokens") && !(*vm)["chunk-tokens"].defaulted();
      if (!given) cfg.policy.tree.chunk_tokens = *table->block_size;
      else if (cfg.policy.tree.chunk_tokens != *table->block_size)
        std::cout << "pswm: warning: --chunk-tokens " << cfg.policy.tree.chunk_tokens
                  << " differs from the server's block size " << *table->block_size << "\n";
    }
    std::cout << "pswm: --tokenizer server: routing on " << cfg.endpoints.front() << "'s token ids"
              << (table->block_size ? ", block size " + std::to_string(cfg.policy.tree.chunk_tokens) + " (vllm:cache_config_info)"
                                    : std::string(", block size not shown by /metrics: --chunk-tokens"))
              << "\n";
    cfg.server_tokens = lookup_server_tokens(std::move(table), chat);
  }

  if (sweep_mode) return run_sweep(io, cfg, rates, slo, slo_tolerance, fleet, emulator_facts);

  // report.html beside each policy's files as soon as they are written; then its records go
  // (a comparison keeps their TTFT CDF): a million-request rr,lb run holds one policy's
  // records at a time.
  cfg.keep_records = false;
  cfg.on_policy_done = [facts = emulator_facts](const ex::policy_result& r) {
    planetserve::diagnostics d;
    if (ex::write_run_report(r, facts, d)) std::cerr << "pswm run: " << d.message << "\n";
    else std::cout << "Report: " << (r.layout.log_dir / "report.html").string() << "\n";
  };
  ex::runner runner(io.get_executor(), cfg, std::cout);
  if (auto ec = runner.prepare(diag)) {
    std::cerr << "pswm run: " << diag.message << "\n";
    return ec == planetserve::error::invalid_argument ? cli::exit_usage : cli::exit_failure;
  }

  // SIGHUP (the terminal closed) stops the run like SIGTERM: what was measured is written.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  stop_on_signals(signals, [&] { runner.request_stop(); }, [&] { runner.flush_request_log(); });

  int rc = cli::exit_ok;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        if (auto ec = co_await runner.async_preflight(diag)) {
          std::cerr << "pswm run: " << diag.message << "\n";
          rc = cli::exit_failure;
        } else {
          // The model id is the server's text: shown made safe (no escape codes).
          std::cout << "pswm: model " << planetserve::detail::sanitized(runner.model()) << ", " << runner.request_count()
                    << " requests per epoch, api " << api << ", max_tokens " << cfg.max_new_tokens
                    << ", ignore_eos " << (cfg.ignore_eos ? "on" : "off")
                    << (ignore_eos || no_ignore_eos ? "" : cfg.ignore_eos ? " (comparing policies)" : " (as the seed)")
                    << (std::find(cfg.policies.begin(), cfg.policies.end(), "lb") != cfg.policies.end()
                            ? ", lb --lb-compat " + std::string(planetserve::dispatch::to_string(cfg.policy.lb.compat))
                            : std::string())
                    << "\n";
          if (auto ec2 = co_await runner.async_run(diag)) {
            std::cerr << "pswm run: " << diag.message << "\n";
            rc = ec2 == planetserve::error::file_unwritable ? cli::exit_incomplete : cli::exit_failure;
          }
          // The comparison's report.html with its CDF and hit-ratio lines (each policy's was
          // written when it ended).
          const auto facts = emulator_facts;
          if (runner.results().size() > 1) {
            planetserve::diagnostics d;
            const auto cdir = ex::comparison_dir(cfg);
            if (ex::write_comparison_report(cdir, runner.results(), facts, cfg.render_figures, std::cout, d))
              std::cerr << "pswm run: " << d.message << "\n";
            else std::cout << "Report: " << (cdir / "report.html").string() << "\n";
          }
        }
        signals.cancel();
        if (fleet) co_await fleet->async_stop();
      },
      planetserve::detail::rethrow_exception{});  // out of io.run(): main reports it, exit 1
  io.run();
  if (rc == cli::exit_ok && runner.stop_requested()) rc = 130;
  return rc;
}

}  // namespace pswm
