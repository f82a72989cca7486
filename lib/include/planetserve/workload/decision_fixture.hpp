// SPDX-License-Identifier: MIT
// decision_fixture: a recorded routing sequence (scenario + tokenized requests) for offline replay.
#pragma once

#include <planetserve/dispatch/decision.hpp>
#include <planetserve/dispatch/policy_config.hpp>
#include <planetserve/error.hpp>
#include <planetserve/tokenize/tokenizer.hpp>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace planetserve::workload {

/// The fixture's first line ({"kind": "scenario", ...}): the fleet and the policy's settings.
/// Fields a fixture leaves out keep these defaults.
struct fixture_scenario {
  std::size_t nodes = 1;                      ///< fleet size
  std::size_t chunk_tokens = 10;              ///< tokens per chunk (the seed's 10)
  std::size_t window_prompts = 10;            ///< prompts each node's index holds
  std::size_t batch_size_tokens = 2048;       ///< busy factor's batch
  std::size_t service_tokens_per_step = 2048; ///< queue drain per decision
  double ema_weight = 0.125;                  ///< latency EMA weight of a new observation
  std::vector<double> initial_latency_ms;     ///< per node starting latency (empty: drawn)
  std::size_t completion_lag = 0;             ///< request j completes just before dispatch j + lag (0: before the next one)
  std::vector<tokenize::token_id> baseline_tokens;  ///< each node's index before its first prompt
};

/// One request line ({"kind": "request", "tokens": [...], "generation_time_s": s, ...}).
struct fixture_request {
  std::vector<tokenize::token_id> tokens;   ///< the prompt's token ids
  double generation_time_s = 0;             ///< its recorded latency, fed to the policy on completion
  std::optional<dispatch::node_index> expected;  ///< `seed_choice`, when the fixture records one
  std::size_t line = 0;                     ///< 1-based line in the file
};

/// A whole fixture: one scenario line, then one line per request in dispatch order.
struct decision_fixture {
  fixture_scenario scenario;  ///< the fleet and policy settings the sequence was recorded with
  std::vector<fixture_request> requests;  ///< the requests, in dispatch order
};

/// Parses fixture text; `source` names it in errors ("file:line: what is wrong").
result<decision_fixture> parse_decision_fixture(std::string_view text, std::string_view source, diagnostics& diag);
/// Reads a fixture file.
result<decision_fixture> read_decision_fixture(const std::filesystem::path& file, diagnostics& diag);

/// Sets `config`'s node count, chunking, window, queue, EMA, initial latencies and baseline
/// from the scenario (policy choice and flags stay the caller's).
void apply_scenario(const fixture_scenario& s, dispatch::policy_config& config);

}  // namespace planetserve::workload
