// SPDX-License-Identifier: MIT
// `pswm run --sim`: starting emulated nodes in-process.
#include "sim_fleet_option.hpp"

#include <planetserve/experiment/virtual_fleet.hpp>

#include <planetserve/sim/fleet.hpp>
#include <planetserve/sim/profile.hpp>
#include <planetserve/tokenize/bpe_tokenizer.hpp>

#include <optional>

namespace pswm {

void sim_fleet_option::add_options(cli::po::options_description& opts) {
  opts.add_options()
      ("sim", cli::po::bool_switch(&enabled), "start --num-nodes emulated vLLM nodes in this process (no GPU needed)")
      ("sim-profile", cli::po::value(&profile)->default_value(profile), "emulator profile (see `pswm sim --help`)")
      ("num-gpu-blocks-override", cli::po::value(&num_gpu_blocks_override)->default_value(0),
       "with --sim: KV-cache blocks per emulated node (0: the profile's); small values put the cache under pressure")
      ("sim-vllm-version", cli::po::value(&vllm_version),
       ("with --sim: the vLLM version the nodes emulate (" + planetserve::sim::modelled_vllm_version_list() +
        "; default the newest): /version, metric families and prefix-cache counting, see `pswm sim --help`").c_str())
      ("gpu", cli::po::value(&gpu), "with --sim: the GPU each node emulates (A100-80GB, A100-40GB, A6000, H100, H200; default: the profile's). "
       "With --sim, --model must name a known model (see `pswm sim --help`), which the nodes emulate")
      ("tensor-parallel-size", cli::po::value(&tensor_parallel_size)->default_value(0, "profile's"),
       "with --sim: GPUs per emulated node the model is split over (weights and KV split, all-reduces added)")
      ("max-num-batched-tokens", cli::po::value(&max_num_batched_tokens)->default_value(0, "profile's"),
       "with --sim: token budget per engine step of each node (vLLM's --max-num-batched-tokens)")
      ("step-jitter", cli::po::value(&step_jitter)->default_value(0.0, "0"),
       "with --sim: spread (0..1) of a seeded, mean-one random factor on every engine step time")
      ("tokenizer", cli::po::value(&tokenizer_file),
       (std::string(tokenizer_flag_help) + "; routes on its ids, and --sim nodes count with it. `--tokenizer server` "
        "(without --sim): ask node 0's POST /tokenize once per distinct prompt (chat template included) and route "
        "on those ids, with its block size from vllm:cache_config_info").c_str());
}

void sim_fleet_option::load_tokenizer() {
  if (!tokenizer_file.empty()) tokenizer = load_tokenizer_flag(tokenizer_file);
}

std::shared_ptr<const planetserve::tokenize::tokenizer> load_tokenizer_flag(const std::string& file) {
  planetserve::diagnostics diag;
  auto tok = planetserve::tokenize::bpe_tokenizer::load(file, diag);
  if (!tok) throw cli::usage_error("--tokenizer: " + diag.message);
  return *tok;
}

std::string profile_choice_error(const std::string& message, const std::string& profile_flag) {
  const std::string flag = message.starts_with("unknown model")     ? "--model"
                           : message.starts_with("unknown GPU")     ? "--gpu"
                           : message.starts_with("unknown profile") ? profile_flag
                                                                    : "--model, --gpu, --tensor-parallel-size";
  return flag + ": " + message;
}

struct sim_fleet_handle::impl {
  std::optional<planetserve::sim::fleet> fleet;
  std::string profile_name;
  std::vector<std::pair<std::string, std::string>> facts;
};

sim_fleet_handle::sim_fleet_handle() : impl_(std::make_unique<impl>()) {}
sim_fleet_handle::~sim_fleet_handle() = default;

boost::system::error_code sim_fleet_option::fleet_config(unsigned nodes, const std::string& host, unsigned base_port,
                                                         const std::string& api_key, std::uint64_t seed,
                                                         planetserve::sim::fleet_config& fc,
                                                         std::vector<std::pair<std::string, std::string>>& facts,
                                                         planetserve::diagnostics& diag) const {
  namespace sim = planetserve::sim;
  const auto& opt = *this;
  if (opt.step_jitter < 0 || opt.step_jitter > 1) {
    diag.message = "--step-jitter: give a spread in [0, 1], e.g. 0.05";
    return planetserve::error::invalid_argument;
  }
  const auto* version = opt.vllm_version.empty() ? &planetserve::sim::default_vllm_version()
                                                 : planetserve::sim::find_vllm_version(opt.vllm_version);
  if (!version) {
    diag.message = "--sim-vllm-version: '" + opt.vllm_version + "' is not modelled; give one of " +
                   planetserve::sim::modelled_vllm_version_list();
    return planetserve::error::invalid_argument;
  }
  sim::profile_choice choice{.profile = opt.profile, .model = opt.model, .gpu = opt.gpu,
                             .tensor_parallel_size = opt.tensor_parallel_size};
  auto chosen = sim::choose_profile(choice, diag);
  if (!chosen) {
    diag.message = profile_choice_error(diag.message, "--sim-profile");
    return planetserve::error::invalid_argument;
  }
  fc.num_nodes = nodes;
  fc.host = host;
  fc.base_port = static_cast<std::uint16_t>(base_port);
  fc.node = planetserve::sim::node_config::from_profile(*chosen);
  if (!opt.model.empty()) fc.node.served_model_name = opt.model;
  if (opt.max_num_batched_tokens > 0) fc.node.engine.max_num_batched_tokens = opt.max_num_batched_tokens;
  fc.node.engine.step_jitter = opt.step_jitter;
  fc.node.api_key = api_key;
  fc.node.engine.seed = seed;
  fc.node.enable_prompt_tokens_details = true;
  fc.node.tokenizer = opt.tokenizer;
  if (opt.kv_events) {
    // Ephemeral ports on the nodes' host, each node its own (vLLM's --kv-events-config
    // with publisher zmq and a replay endpoint).
    const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    fc.node.kv_events.endpoint = "tcp://" + h + ":*";
    fc.node.kv_events.replay_endpoint = "tcp://" + h + ":*";
  }
  fc.node.vllm = *version;
  if (version->deprecated_names_too) fc.node.metrics_names = planetserve::sim::metric_names::both;
  if (opt.num_gpu_blocks_override > 0) {
    fc.node.engine.num_gpu_blocks = opt.num_gpu_blocks_override;
    fc.node.engine.num_gpu_blocks_overridden = true;
    fc.node.num_gpu_blocks_override = opt.num_gpu_blocks_override;
  }
  facts = {{"profile", chosen->name},
           {"model", chosen->model + (opt.model.empty() ? "" : " (served as " + opt.model + ")")},
           {"gpu", chosen->gpu_name + " x " + std::to_string(chosen->tensor_parallel_size) + " (tensor parallel)"},
           {"num_gpu_blocks", std::to_string(fc.node.engine.num_gpu_blocks) +
                                  (opt.num_gpu_blocks_override > 0 ? " (--num-gpu-blocks-override)" : " (from memory)")},
           {"block_size", std::to_string(chosen->block_size)},
           {"max_num_seqs", std::to_string(chosen->max_num_seqs)},
           {"max_num_batched_tokens", std::to_string(fc.node.engine.max_num_batched_tokens)},
           {"step_jitter", std::to_string(opt.step_jitter)},
           {"vllm_version", opt.vllm_version.empty() ? "newest modelled" : opt.vllm_version},
           {"nodes", std::to_string(nodes)}};
  return {};
}

boost::system::error_code sim_fleet_handle::start(boost::asio::any_io_executor ex, const sim_fleet_option& opt,
                                                  unsigned nodes, const std::string& host, unsigned base_port,
                                                  const std::string& api_key, std::uint64_t seed,
                                                  planetserve::diagnostics& diag) {
  planetserve::sim::fleet_config fc;
  if (auto ec = opt.fleet_config(nodes, host, base_port, api_key, seed, fc, impl_->facts, diag)) return ec;
  impl_->profile_name = impl_->facts.front().second;
  impl_->fleet.emplace(std::move(ex), std::move(fc));
  return impl_->fleet->start(diag);
}

std::string sim_fleet_handle::profile_name() const { return impl_->profile_name; }

std::vector<std::pair<std::string, std::string>> sim_fleet_handle::profile_facts() const { return impl_->facts; }

std::vector<planetserve::experiment::kv_events_source> sim_fleet_handle::kv_events() const {
  std::vector<planetserve::experiment::kv_events_source> out;
  if (!impl_->fleet) return out;
  for (std::size_t i = 0; i < impl_->fleet->size(); ++i) {
    const auto& n = impl_->fleet->node(i);
    if (n.kv_events_endpoint().empty()) return {};
    out.push_back({n.kv_events_endpoint(), n.kv_events_replay_endpoint(), {}});
  }
  return out;
}

std::function<void(const planetserve::workload::prompt&, std::vector<planetserve::tokenize::token_id>&)>
server_tokens_for(const planetserve::sim::node_config& node, bool chat) {
  return planetserve::experiment::virtual_fleet::node_tokens(node, chat);
}

std::function<void(const planetserve::workload::prompt&, std::vector<planetserve::tokenize::token_id>&)>
sim_fleet_handle::server_tokens(bool chat) const {
  return server_tokens_for(impl_->fleet->config().node, chat);
}

std::vector<std::string> sim_fleet_handle::urls() const {
  return impl_->fleet ? impl_->fleet->urls() : std::vector<std::string>{};
}

boost::asio::awaitable<void> sim_fleet_handle::async_stop() {
  if (impl_->fleet) co_await impl_->fleet->async_shutdown(std::chrono::seconds(1));
}

}  // namespace pswm
