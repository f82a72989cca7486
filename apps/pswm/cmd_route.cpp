// SPDX-License-Identifier: MIT
// `pswm route`: the dispatch policies as a live OpenAI-compatible router in front of a fleet.
#include "cli.hpp"
#include "commands.hpp"
#include "chat_template_flag.hpp"
#include "kv_events_flags.hpp"
#include "policy_flags.hpp"
#include "sim_fleet_option.hpp"

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/http/busy_poll.hpp>
#include <planetserve/http/url.hpp>
#include <planetserve/route/router.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <exception>
#include <iostream>

namespace pswm {

namespace {

namespace route = planetserve::route;

const char* usage =
    "Usage: pswm route --listen HOST:PORT [--endpoints URL,... | --num-nodes N --base-port P] [--dispatch POLICY]\n\n"
    "Serves an OpenAI-compatible API and routes every generation request to one node of the fleet with a\n"
    "dispatch policy (the same code `pswm run` measures). POST /v1/chat/completions and /v1/completions are\n"
    "passed through as their bytes arrive (streaming or not), with the header x-pswm-node naming the node;\n"
    "GET /v1/models lists the fleet's models (every node must serve the same); POST /tokenize goes to a\n"
    "healthy node; GET /health is 200 while some node is healthy; GET /metrics is the router's own page.\n"
    "A request whose connection fails before any byte reached the client goes to another node; a node\n"
    "failing --breaker-failures times in a row, or failing its /health check, is out until /health answers.\n"
    "SIGTERM or Ctrl-C drains: no new connections, requests in flight get --drain-timeout to finish.\n\n"
    "Example:\n"
    "  pswm sim --num-nodes 4 --base-port 8000 &\n"
    "  pswm route --listen 127.0.0.1:9000 --num-nodes 4 --base-port 8000 --dispatch lb\n"
    "  curl -N localhost:9000/v1/chat/completions -H 'Content-Type: application/json' \\\n"
    "    -d '{\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'\n\n"
    "precise on the nodes' KV-cache events (pswm sim publishes them as vLLM does):\n"
    "  pswm sim --num-nodes 2 --base-port 8000 --kv-events-endpoint tcp://127.0.0.1:5557 \\\n"
    "    --kv-events-replay-endpoint tcp://127.0.0.1:5600 &\n"
    "  pswm route --listen 127.0.0.1:9000 --num-nodes 2 --base-port 8000 --dispatch precise --chat-template llama3.1 \\\n"
    "    --kv-events-endpoints tcp://127.0.0.1:5557,tcp://127.0.0.1:5558 \\\n"
    "    --kv-events-replay-endpoints tcp://127.0.0.1:5600,tcp://127.0.0.1:5601\n"
    "(without replay endpoints a node counts as exact only once its events are seen from sequence 0)\n\n"
    "Lowest added latency on a virtual machine: a core of its own, polling instead of sleeping:\n"
    "  taskset -c 1 pswm route --listen 127.0.0.1:9000 --num-nodes 4 --base-port 8000 --busy-poll 0.002";

/// "HOST:PORT" ("[::1]:9000" for IPv6) into host and port; throws naming --listen.
std::pair<std::string, std::uint16_t> parse_listen(const std::string& s) {
  const auto colon = s.rfind(':');
  const auto bad = [&] {
    return cli::usage_error("--listen '" + s + "': give HOST:PORT, e.g. 127.0.0.1:9000 (port 0: any free port)");
  };
  if (colon == std::string::npos || colon == 0) throw bad();
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = s.substr(colon + 1);
  unsigned long v = 0;
  try {
    std::size_t used = 0;
    v = std::stoul(port, &used);
    if (used != port.size() || v > 65535) throw bad();
  } catch (const std::logic_error&) {
    throw bad();
  }
  return {host, static_cast<std::uint16_t>(v)};
}

/// A non-negative number of seconds as a duration, or a usage error naming `flag`.
std::chrono::milliseconds seconds_flag(double s, const char* flag) {
  auto d = planetserve::detail::checked_seconds<std::chrono::milliseconds>(s);
  if (!d || s < 0) throw cli::usage_error(std::string(flag) + " must be a number of seconds, 0 or more");
  return *d;
}

}  // namespace

int cmd_route(int argc, char** argv) {
  cli::po::options_description options("Options");
  std::string listen = "127.0.0.1:9000", endpoints, host = "127.0.0.1", dispatch = "lb", tokenizer_file,
              chat_template = "none";
  long long num_nodes = 1, base_port = 8000, max_body = 8ll << 20;
  unsigned max_retries = 2;
  std::size_t breaker_failures = 3;
  double header_timeout = 10, retry_backoff = 0.005, health_interval = 1, metrics_interval = 1, connect_timeout = 2,
         drain_timeout = 30, busy_poll = 0;
  route::router_config cfg;
  policy_flags pflags;
  kv_events_flags kv_flags;
  options.add_options()
      ("listen", cli::po::value(&listen)->default_value(listen), "HOST:PORT the router serves on (port 0: any free port, printed)")
      ("endpoints", cli::po::value(&endpoints), "comma list of node base URLs (http:// or https://), instead of --host/--base-port/--num-nodes")
      ("num-nodes", cli::po::value(&num_nodes)->default_value(num_nodes), "number of nodes; node i is at --host:(base-port + i)")
      ("base-port", cli::po::value(&base_port)->default_value(base_port), "port of node 0")
      ("host", cli::po::value(&host)->default_value(host), "host of the nodes (with --base-port)")
      ("dispatch", cli::po::value(&dispatch)->default_value(dispatch),
       ("the routing policy, one of: " + planetserve::dispatch::known_policy_names()).c_str())
      ("max-body", cli::po::value(&max_body)->default_value(max_body), "largest request body in bytes; a larger one gets 413")
      ("header-timeout", cli::po::value(&header_timeout)->default_value(header_timeout, "10"),
       "seconds a client may take to send a request's headers and body (and to send the next one on a kept-alive "
       "connection): a slow-loris client is cut off")
      ("api-key", cli::po::value(&cfg.api_key),
       "clients must send 'Authorization: Bearer KEY' (else 401); without it the client's Authorization header "
       "is passed to the nodes. Never logged")
      ("upstream-api-key", cli::po::value(&cfg.upstream_api_key),
       "the key sent to the nodes instead of the client's. Never logged")
      ("max-retries", cli::po::value(&max_retries)->default_value(max_retries),
       "times a request is sent to another node after its connection failed before any byte reached the client")
      ("retry-backoff", cli::po::value(&retry_backoff)->default_value(retry_backoff, "0.005"),
       "seconds before the first retry; doubled for each further one")
      ("breaker-failures", cli::po::value(&breaker_failures)->default_value(breaker_failures),
       "consecutive connection failures that open a node's circuit breaker (0: only a failed /health does); "
       "an open node's /health is probed and, once it answers, the next request closes or reopens it")
      ("health-interval", cli::po::value(&health_interval)->default_value(health_interval, "1"),
       "seconds between active /health checks of every node (0: none)")
      ("metrics-interval", cli::po::value(&metrics_interval)->default_value(metrics_interval, "1"),
       "seconds between scrapes of every node's /metrics, the policy's live load (0: none)")
      ("connect-timeout", cli::po::value(&connect_timeout)->default_value(connect_timeout, "2"),
       "seconds to connect to a node before the attempt counts as failed")
      ("drain-timeout", cli::po::value(&drain_timeout)->default_value(drain_timeout, "30"),
       "on SIGTERM or Ctrl-C, seconds requests in flight get to finish (a second signal stops at once)")
      ("busy-poll", cli::po::value(&busy_poll)->default_value(busy_poll, "0"),
       "seconds the router keeps polling its sockets after the last event before it sleeps (e.g. 0.0002). "
       "Cuts the latency it adds on virtual machines, where every wake-up is costly, for up to one core of CPU "
       "while traffic flows; give it a core of its own (taskset -c N pswm route ...). 0: sleep at once")
      ("tokenizer", cli::po::value(&tokenizer_file), tokenizer_flag_help)
      ("chat-template", cli::po::value(&chat_template)->default_value(chat_template), chat_template_flag_help);
  pflags.add_options(options);
  kv_flags.add_options(options, false);
  int code = cli::exit_ok;
  auto vm = cli::parse(argc, argv, usage, options, nullptr, code);
  if (!vm) return code;

  // Plain variables, not a structured binding: the coroutine lambda below captures them, which
  // clang 14 refuses for bindings.
  const auto listen_at = parse_listen(listen);
  const std::string listen_host = listen_at.first;
  const std::uint16_t listen_port = listen_at.second;
  if (!endpoints.empty()) {
    if (vm->count("num-nodes") && !(*vm)["num-nodes"].defaulted())
      throw cli::usage_error("--endpoints and --num-nodes exclude each other: give one");
    cfg.endpoints = cli::split_list(endpoints);
    if (cfg.endpoints.empty()) throw cli::usage_error("--endpoints needs at least one URL");
  } else {
    if (num_nodes < 1 || num_nodes > 65535) throw cli::usage_error("--num-nodes must be between 1 and 65535");
    if (base_port < 1 || base_port + num_nodes - 1 > 65535)
      throw cli::usage_error("--base-port: ports " + std::to_string(base_port) + ".." +
                             std::to_string(base_port + num_nodes - 1) + " are out of range (1..65535)");
    std::string bare = host;
    if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
    for (long long i = 0; i < num_nodes; ++i)
      cfg.endpoints.push_back(planetserve::http::url{false, bare, static_cast<std::uint16_t>(base_port + i), "/"}.origin());
  }
  if (max_body < 1) throw cli::usage_error("--max-body must be at least 1 byte");
  cfg.max_body = static_cast<std::size_t>(max_body);
  cfg.policy = dispatch;
  pflags.apply(*vm, cfg.policy_config);
  cfg.max_retries = max_retries;
  cfg.breaker_failures = breaker_failures;
  cfg.header_timeout = seconds_flag(header_timeout, "--header-timeout");
  if (cfg.header_timeout.count() == 0) throw cli::usage_error("--header-timeout must be more than 0");
  cfg.retry_backoff = seconds_flag(retry_backoff, "--retry-backoff");
  cfg.health_interval = seconds_flag(health_interval, "--health-interval");
  cfg.metrics_interval = seconds_flag(metrics_interval, "--metrics-interval");
  cfg.connect_timeout = seconds_flag(connect_timeout, "--connect-timeout");
  const auto grace = seconds_flag(drain_timeout, "--drain-timeout");
  if (!(busy_poll >= 0 && busy_poll <= 1)) throw cli::usage_error("--busy-poll must be between 0 and 1 second");
  const auto spin = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(busy_poll));
  if (!tokenizer_file.empty()) cfg.tokenizer = load_tokenizer_flag(tokenizer_file);
  cfg.chat_template = chat_template_flag(chat_template);
  cfg.kv_events = kv_flags.sources(cfg.endpoints.size());

  boost::asio::io_context io(1);
  planetserve::diagnostics diag;
  auto made = route::router::create(io.get_executor(), std::move(cfg), diag);
  if (!made) throw cli::usage_error(diag.message);
  auto& r = **made;
  int status = cli::exit_ok;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        planetserve::diagnostics sd;
        if (auto ec = co_await r.async_start(sd)) {
          std::cerr << "pswm route: error: " << sd.message << "\n";
          status = cli::exit_failure;
          io.stop();
          co_return;
        }
        if (!sd.empty()) std::cerr << "pswm route: warning: " << sd.message << "\n";
        planetserve::diagnostics ld;
        auto port = r.listen(listen_host, listen_port, ld);
        if (!port) {
          std::cerr << "pswm route: error: --listen " << listen << ": " << ld.message << "\n";
          status = cli::exit_failure;
          io.stop();
          co_return;
        }
        const std::string shown = listen_host.find(':') != std::string::npos ? "[" + listen_host + "]" : listen_host;
        std::cout << "pswm route: listening on http://" << shown << ":" << *port << " (" << r.nodes()
                  << " node(s), policy " << r.policy().name() << ", model";
        for (const auto& m : r.models()) std::cout << " " << m;
        std::cout << ")" << std::endl;
      },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });

  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    std::cerr << "pswm route: draining (up to " << drain_timeout << " s for requests in flight)\n";
    signals.async_wait([&](const boost::system::error_code& ec2, int) {
      if (!ec2) io.stop();
    });
    boost::asio::co_spawn(io, r.async_shutdown(grace), [&](const std::exception_ptr& e) {
      signals.cancel();
      io.stop();
      if (e) std::rethrow_exception(e);
    });
  });
  std::signal(SIGPIPE, SIG_IGN);
  planetserve::http::run_busy_polling(io, spin);
  if (status == cli::exit_ok) std::cerr << "pswm route: stopped\n";
  return status;
}

}  // namespace pswm
