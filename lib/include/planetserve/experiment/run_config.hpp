// SPDX-License-Identifier: MIT
// run_config: everything one `pswm run` needs, as plain settings (the CLI maps flags onto it).
#pragma once

#include <planetserve/dispatch/policy.hpp>
#include <planetserve/dispatch/policy_config.hpp>
#include <planetserve/experiment/goodput.hpp>
#include <planetserve/experiment/kv_event_subscriber.hpp>
#include <planetserve/experiment/progress.hpp>
#include <planetserve/experiment/session_settings.hpp>
#include <planetserve/sim/fleet.hpp>
#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/arrivals.hpp>
#include <planetserve/workload/dataset.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace planetserve::experiment {

struct policy_result;

/// Which OpenAI endpoint requests go to.
enum class api_kind { chat, completions };

/// Makes a policy of one's own for a run: called once per run of that policy, with the run's
/// policy settings (nodes filled in, seed set).
using policy_factory = std::function<std::unique_ptr<dispatch::policy>(const dispatch::policy_config&)>;

/// Settings of an experiment run.
struct run_config {
  std::vector<std::string> endpoints;    ///< base URLs of the nodes, node k = endpoints[k]
  std::string model;                     ///< model name; empty: ask node 0's /v1/models
  std::string api_key;                   ///< Bearer key; never written anywhere
  api_kind api = api_kind::chat;         ///< /v1/chat/completions (the seed's) or /v1/completions
  std::filesystem::path dataset_file;    ///< JSONL workload (with `prompts`: only names the outputs, "prompts" if empty)
  std::vector<workload::prompt> prompts;  ///< the workload in memory; when not empty it is sent instead of reading dataset_file
  workload::dataset_config dataset{};    ///< field, skip_bad_lines, limits
  std::size_t maxq = 0;                  ///< requests per epoch; 0: every prompt
  workload::arrival_process arrival = workload::arrival_process::poisson;  ///< inter-arrival law
  double average_interval_s = 1.0;       ///< mean gap between requests, seconds
  double burstiness = 1.0;               ///< gamma shape (1 = Poisson)
  double ramp_start_rps = 0;             ///< with ramp_end_rps: the rate goes linearly from this (req/s) at the first request ...
  double ramp_end_rps = 0;               ///< ... to this at the last, instead of average_interval_s; 0: no ramp
  bool trace_arrivals = true;            ///< a trace's timestamps set the arrivals (false: the arrival process above)
  double time_scale = 1.0;               ///< a trace's gaps are multiplied by this (0.1 = ten times faster)
  /// Conversations (dataset.format sessions, or detected): sessions arrive by the arrival
  /// process; turn k goes `think_time` after turn k-1's reply, its history's replies being
  /// the ones received (live) or the dataset's. maxq caps the sessions.
  history_mode history = history_mode::live;
  think_time_spec think_time{};          ///< the user's pause between a reply and the next turn
  std::uint64_t seed = 0;                ///< arrivals and every policy's random choices (prepare() copies it into policy.seed)
  std::uint32_t max_new_tokens = 50;     ///< max_tokens of each request (the seed's default)
  bool ignore_eos = false;               ///< ask for exactly max_new_tokens (equal work for every policy); the seed does not
  std::vector<std::string> policies{"lb"};  ///< one run per policy, same schedule and prompts
  std::map<std::string, policy_factory> custom_policies;  ///< names usable in `policies` beside the built-in ones (a custom name shadows a built-in)
  dispatch::policy_config policy{};      ///< policy settings (prepare() fills nodes from endpoints and seed from `seed`)
  std::shared_ptr<const tokenize::tokenizer> tokenizer;  ///< routing tokenizer (--tokenizer); null: the approximate one
  /// The token ids the servers compute for a prompt, when the caller knows how they render it
  /// (chat template, BOS): the router then routes on exactly those ids. Empty: `tokenizer`
  /// on the prompt's text. `pswm run --sim` sets it from its nodes' template and tokenizer; a
  /// virtual-time run without it uses virtual_fleet::node_tokens (the engines' own ids).
  std::function<void(const workload::prompt&, std::vector<tokenize::token_id>&)> server_tokens;
  /// Per node (by index): where it publishes KV-cache events. A policy that wants them
  /// (dispatch::kv_event_sink, e.g. `precise`) is fed from here; empty: such a policy
  /// judges every node by its fallback model.
  std::vector<kv_events_source> kv_events;
  std::chrono::duration<double> metrics_interval{0.1};  ///< /metrics poll period per node
  std::chrono::duration<double> request_timeout{600};   ///< longest a request may take
  std::chrono::duration<double> drain_timeout{10};      ///< after Ctrl-C, wait this for in-flight
  std::chrono::duration<double> health_interval{1.0};   ///< re-probe a failed node this often
  std::size_t max_retries = 2;           ///< sends again after a connection failure before any response byte (0: never)
  std::chrono::duration<double> retry_backoff{0.05};  ///< wait before the first retry; doubled for each further one
  std::size_t breaker_failures = 3;      ///< consecutive connection failures or timeouts that take a node out (a failed /health does at once)
  std::chrono::duration<double> no_node_wait{30};     ///< a request due while every node is out waits this long for one, then is recorded no_node_available
  bool allow_duplicate_endpoints = false;  ///< accept two endpoints naming the same server (counted as two nodes)
  std::size_t max_connections_per_node = 1000;  ///< connections open at once to one node; further requests wait for one (their send lag shows it)
  std::size_t max_concurrency = 0;       ///< requests in flight across the fleet at most; a due request waits for one to end (send lag shows it). 0: no cap
  std::optional<goodput_spec> goodput;   ///< latency bounds for goodput in the summaries; none: no goodput figures
  std::filesystem::path output_dir = ".";  ///< where log_*/fig_*/compare_* go
  std::size_t epochs = 1;                ///< repeat the workload; prefix caches reset between
  std::string ca_file;                   ///< trust these CAs for https endpoints
  bool insecure = false;                 ///< skip TLS certificate checks
  bool progress = true;                  ///< report progress while running
  /// Progress while running (about once a second and at each epoch's end); null: a plain
  /// line to the log every 5 s. The library writes no terminal codes: a caller that wants a
  /// live line draws it here.
  std::function<void(const progress_report&)> on_progress;
  /// Virtual time: the nodes are in-process emulated engines (`virtual_nodes`) driven by a
  /// discrete-event clock; no sockets, no sleeping, every time in simulated seconds.
  /// `endpoints` must be empty.
  bool virtual_time = false;
  sim::fleet_config virtual_nodes;       ///< with virtual_time: how many nodes and each one's emulator settings
  /// Virtual time: refuse a run whose estimated peak memory (experiment::estimate_virtual_memory)
  /// is above this many bytes; 0: above what the machine has available (MemAvailable, cgroup).
  std::uint64_t memory_limit_bytes = 0;
  /// Keep every policy's records in runner::results() after its outputs are written; false
  /// drops each policy's records once written and summarized (what `pswm run` does: a
  /// million-request comparison then holds one policy's records at a time).
  bool keep_records = true;
  /// Called after each policy's files are written and summarized, with its records still
  /// there (keep_records false drops them right after): e.g. to write its report.html.
  std::function<void(const policy_result&)> on_policy_done;
  bool render_figures = true;            ///< run gnuplot for the figures
};

}  // namespace planetserve::experiment
