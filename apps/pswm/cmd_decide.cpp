// SPDX-License-Identifier: MIT
// pswm decide: routes a recorded request sequence through a policy offline and prints each choice.
#include "cli.hpp"
#include "commands.hpp"
#include "policy_flags.hpp"

#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/dispatch/replay.hpp>
#include <planetserve/workload/decision_fixture.hpp>

#include <chrono>
#include <cmath>
#include <iostream>
#include <string>

namespace pswm {

namespace {

const char* decide_usage =
    "Usage: pswm decide --fixture FILE [--dispatch POLICY] [--lb-compat pswm|seed] [policy flags]\n"
    "\n"
    "Routes a recorded request sequence through a policy with no servers and prints one JSON line\n"
    "per request: {\"index\": i, \"node\": n, \"rule\": ...} (0-based), plus \"seed_choice\" and \"agrees\"\n"
    "when the fixture records the seed's choice. The fixture is JSONL: first a scenario line\n"
    "{\"kind\": \"scenario\", \"nodes\": N, \"chunk_tokens\", \"window_prompts\", \"batch_size_tokens\",\n"
    "\"service_tokens_per_step\", \"ema_weight\", \"initial_latency_ms\": [...], \"completion_lag\",\n"
    "\"baseline_tokens\": [...]}, then one {\"kind\": \"request\", \"tokens\": [...], \"generation_time_s\": s,\n"
    "\"seed_choice\": n} per request in dispatch order. Request j completes, with its generation time,\n"
    "just before request j + completion_lag is decided. The scenario's settings apply unless a flag\n"
    "is given. A count of agreements with seed_choice goes to stderr.\n"
    "\n"
    "Example:\n"
    "  pswm decide --fixture tests/data/dispatch/lb_decisions_mixed.jsonl --lb-compat seed --check";

}  // namespace

int cmd_decide(int argc, char** argv) {
  std::string fixture_file, dispatch = "lb";
  std::uint64_t seed = 0;
  bool check = false;
  policy_flags pflags;
  cli::po::options_description opts("Options");
  opts.add_options()
      ("fixture", cli::po::value(&fixture_file), "the recorded sequence (JSONL: a scenario line, then one request per line)")
      ("dispatch", cli::po::value(&dispatch)->default_value(dispatch), "the policy to replay (any name `pswm run --help` lists)")
      ("seed", cli::po::value(&seed)->default_value(0), "seed of the policy's random choices (and of drawn initial latencies)")
      ("check", cli::po::bool_switch(&check), "exit 1 unless every choice equals the fixture's seed_choice");
  pflags.add_options(opts);
  int code = cli::exit_ok;
  auto vm = cli::parse(argc, argv, decide_usage, opts, nullptr, code);
  if (!vm) return code;
  if (fixture_file.empty()) throw cli::usage_error("--fixture is required (e.g. --fixture tests/data/dispatch/lb_decisions_mixed.jsonl)");

  planetserve::diagnostics diag;
  auto fx = planetserve::workload::read_decision_fixture(fixture_file, diag);
  if (!fx) {
    std::cerr << "pswm decide: " << diag.message << "\n";
    return cli::exit_failure;
  }
  namespace d = planetserve::dispatch;
  d::policy_config config;
  config.seed = seed;
  planetserve::workload::apply_scenario(fx->scenario, config);
  pflags.apply(*vm, config, true);
  if (d::check(config, diag)) throw cli::usage_error(fixture_file + ": " + diag.message);
  auto policy = d::make_policy(dispatch, config);
  if (!policy)
    throw cli::usage_error("--dispatch: unknown policy '" + dispatch + "' (known: " + d::known_policy_names() + ")");

  std::vector<d::replay_request> reqs;
  reqs.reserve(fx->requests.size());
  for (const auto& r : fx->requests)
    reqs.push_back({r.tokens, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::duration<double>(r.generation_time_s))});
  const auto choices = d::replay(*policy, reqs, fx->scenario.completion_lag);

  std::size_t recorded = 0, agree = 0;
  std::string line;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const auto& c = choices[i];
    line = "{\"index\":" + std::to_string(i) + ",\"node\":" +
           (c.node == d::no_node ? std::string("null") : std::to_string(c.node)) + ",\"rule\":\"" +
           std::string(c.fired == d::rule::custom && !c.custom_rule.empty() ? c.custom_rule : d::to_string(c.fired)) + "\"";
    if (const auto& e = fx->requests[i].expected) {
      ++recorded;
      agree += *e == c.node;
      line += ",\"seed_choice\":" + std::to_string(*e) + ",\"agrees\":" + (*e == c.node ? "true" : "false");
    }
    line += "}\n";
    std::cout << line;
  }
  std::cout << std::flush;
  std::cerr << "pswm decide: " << choices.size() << " requests on " << config.nodes << " nodes, policy "
            << dispatch << (dispatch == "lb" ? " (--lb-compat " + std::string(d::to_string(config.lb.compat)) + ")" : "");
  if (recorded) std::cerr << "; " << agree << " of " << recorded << " choices equal seed_choice";
  std::cerr << "\n";
  return check && agree != recorded ? cli::exit_failure : cli::exit_ok;
}

}  // namespace pswm
