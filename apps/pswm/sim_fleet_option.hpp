// SPDX-License-Identifier: MIT
// `pswm run --sim`: the flags that start emulated nodes inside the run's own io_context.
#pragma once

#include "cli.hpp"

#include <planetserve/error.hpp>
#include <planetserve/experiment/kv_event_subscriber.hpp>
#include <planetserve/sim/fleet.hpp>
#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/dataset.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pswm {

/// The --sim flags of `pswm run`.
struct sim_fleet_option {
  bool enabled = false;                        ///< --sim
  std::string profile = "llama-3.1-8b-a100-80gb";   ///< --sim-profile
  std::size_t num_gpu_blocks_override = 0;     ///< --num-gpu-blocks-override (0: the profile's)
  std::string vllm_version;                    ///< --sim-vllm-version (empty: the newest modelled)
  std::string model;                           ///< run's --model: with --sim, a known model the nodes emulate and serve under that name
  std::string gpu;                             ///< --gpu (empty: the profile's)
  std::size_t tensor_parallel_size = 0;        ///< --tensor-parallel-size (0: the profile's)
  std::size_t max_num_batched_tokens = 0;      ///< --max-num-batched-tokens (0: the profile's)
  double step_jitter = 0;                      ///< --step-jitter
  std::string tokenizer_file;                  ///< --tokenizer: a tokenizer.json for routing and the --sim nodes
  std::shared_ptr<const planetserve::tokenize::tokenizer> tokenizer;  ///< loaded from tokenizer_file (null: approximate)
  bool kv_events = false;                      ///< nodes publish KV-cache events (set when a --dispatch policy wants them)

  void add_options(cli::po::options_description& opts);
  /// The emulated nodes these flags describe, and what they emulate as (name, value) pairs
  /// for report.html (the first is the profile's name); fails with a message naming the flag.
  boost::system::error_code fleet_config(unsigned nodes, const std::string& host, unsigned base_port,
                                         const std::string& api_key, std::uint64_t seed,
                                         planetserve::sim::fleet_config& out,
                                         std::vector<std::pair<std::string, std::string>>& facts,
                                         planetserve::diagnostics& diag) const;
  /// Loads --tokenizer, if given; throws cli::usage_error naming the file and field.
  void load_tokenizer();
};

/// Reads a tokenizer.json for a --tokenizer flag; throws cli::usage_error with the file, the
/// field and what is supported.
std::shared_ptr<const planetserve::tokenize::tokenizer> load_tokenizer_flag(const std::string& file);

/// A sim::choose_profile failure message, prefixed with the flag it is about (`profile_flag`
/// names the profile flag: --profile for `pswm sim`, --sim-profile for `pswm run`).
std::string profile_choice_error(const std::string& message, const std::string& profile_flag);

/// --help text of --tokenizer.
inline constexpr const char* tokenizer_flag_help =
    "Hugging Face tokenizer.json with byte-level BPE and no normalizer (Llama 3.x, DeepSeek distills) for "
    "exact token ids; default: the approximate tokenizer";

/// Tokens as an emulated node configured by `node` computes them for a prompt sent to the chat
/// (`chat`) or completions API: its chat template and BOS included, so the router's blocks
/// are the server's.
std::function<void(const planetserve::workload::prompt&, std::vector<planetserve::tokenize::token_id>&)>
server_tokens_for(const planetserve::sim::node_config& node, bool chat);

/// Emulated nodes running in-process for the length of a run.
class sim_fleet_handle {
 public:
  sim_fleet_handle();
  ~sim_fleet_handle();
  /// Starts `nodes` nodes on host:base_port+i (loopback unless host says otherwise).
  boost::system::error_code start(boost::asio::any_io_executor ex, const sim_fleet_option& opt,
                                  unsigned nodes, const std::string& host, unsigned base_port,
                                  const std::string& api_key, std::uint64_t seed,
                                  planetserve::diagnostics& diag);
  /// The profile the nodes run (after --model, --gpu, --tensor-parallel-size).
  std::string profile_name() const;
  /// What the nodes emulate, as (name, value) pairs for report.html: profile, model, GPU,
  /// tensor parallelism, KV blocks (after any override), batching limits, vLLM version.
  std::vector<std::pair<std::string, std::string>> profile_facts() const;
  /// Base URLs of the started nodes.
  std::vector<std::string> urls() const;
  /// Where each started node publishes KV events (empty unless opt.kv_events).
  std::vector<planetserve::experiment::kv_events_source> kv_events() const;
  /// The token ids the nodes compute for a prompt sent through `chat` or the completions
  /// API: their chat template and tokenizer, or their BOS and tokenizer.
  std::function<void(const planetserve::workload::prompt&, std::vector<planetserve::tokenize::token_id>&)>
  server_tokens(bool chat) const;
  /// Stops every node gracefully.
  boost::asio::awaitable<void> async_stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace pswm
