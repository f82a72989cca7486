// SPDX-License-Identifier: MIT
// pswm sim: run N emulated vLLM nodes on consecutive ports until SIGINT/SIGTERM.
#include "cli.hpp"
#include "commands.hpp"
#include "sim_fleet_option.hpp"

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/sim/fleet.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace pswm {

namespace {

namespace sim = planetserve::sim;

std::string usage_text() {
  std::ostringstream u;
  u << "Usage: pswm sim [options]\n\n"
       "Runs --num-nodes emulated vLLM servers on --host, ports --base-port .. --base-port+N-1\n"
       "(port 0: ephemeral ports, printed). Each serves /v1/completions, /v1/chat/completions,\n"
       "/v1/models, /health, /version, /tokenize, /detokenize, /metrics and /reset_prefix_cache\n"
       "like vLLM, with latencies from the profile. Stops gracefully on SIGINT/SIGTERM.\n\n"
       "Profiles (--profile; --model, --gpu and --tensor-parallel-size replace their parts):\n";
  for (const auto& p : sim::builtin_profiles()) {
    char line[256];
    if (p.cost.fixed_s == 0 && p.cost.per_prefill_token_s == 0)
      std::snprintf(line, sizeof line, "  %-40s %s, zero model time (driver benchmarks), %zu KV blocks\n",
                    p.name.c_str(), p.model.c_str(), p.num_gpu_blocks);
    else
      std::snprintf(line, sizeof line, "  %-40s %s on %zu x %s, %zu KV blocks, max_num_seqs %zu%s\n", p.name.c_str(),
                    p.model.c_str(), p.tensor_parallel_size, p.gpu_name.c_str(), p.num_gpu_blocks, p.max_num_seqs,
                    &p == &sim::default_profile() ? " (default)" : "");
    u << line;
  }
  u << "  (aliases: a100, a6000, h100)\n\nModels (--model, by id or short name):\n";
  for (const auto& m : sim::known_models()) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-40s %-30s %.2fB params, %zu layers, %zu KV heads, max_model_len %zu\n",
                  m.id.c_str(), m.short_name.c_str(), m.parameters() / 1e9, m.num_layers, m.num_kv_heads,
                  m.max_position_embeddings);
    u << line;
  }
  u << "\nGPUs (--gpu):\n";
  for (const auto& g : sim::known_gpus()) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-10s %-24s %6.1f GiB, %4.0f GB/s, %4.0f BF16 TFLOPS\n", g.name.c_str(),
                  g.device_name.c_str(), g.memory_gib, g.memory_bandwidth / 1e9, g.bf16_flops / 1e12);
    u << line;
  }
  return u.str();
}

std::vector<unsigned> parse_statuses(const std::string& s) {
  std::vector<unsigned> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      const unsigned long v = std::stoul(item, &used);
      if (used != item.size() || v < 400 || v > 599) throw std::invalid_argument(item);
      out.push_back(static_cast<unsigned>(v));
    } catch (const std::exception&) {
      throw cli::usage_error("--fault-error-status: '" + item +
                             "' is not an HTTP error status; give a comma-separated list of 4xx/5xx codes, e.g. 500,503");
    }
  }
  if (out.empty()) throw cli::usage_error("--fault-error-status: give at least one status, e.g. 500");
  return out;
}

}  // namespace

int cmd_sim(int argc, char** argv) {
  cli::po::options_description options("Options");
  std::size_t num_nodes = 1;
  unsigned base_port = 8000;
  std::string host = "127.0.0.1", profile_name = sim::default_profile().name, model, served, api_key;
  std::string kv_endpoint, kv_replay_endpoint;  // --kv-events-endpoint, --kv-events-replay-endpoint
  std::uint64_t seed = 0;
  std::size_t block_size = 0, max_num_seqs = 0, max_batched = 0, max_model_len = 0, blocks_override = 0;
  double gpu_util = 0;
  std::string metrics_names;
  std::string vllm_version_name(sim::default_vllm_version().name);
  double error_rate = 0, close_rate = 0, reset_rate = 0;
  std::string error_statuses = "500";
  std::size_t close_after = 0;
  double unhealthy_s = 0, grace_s = 5;
  unsigned delay_ms = 0, jitter_ms = 0;
  double output_mean = 0, step_jitter = 0;
  std::string timing_log, tokenizer_file, tokenizer_config_file, gpu;
  std::size_t tensor_parallel = 0;
  options.add_options()
      ("num-nodes,n", cli::po::value(&num_nodes)->default_value(num_nodes), "number of nodes")
      ("base-port,p", cli::po::value(&base_port)->default_value(base_port), "port of node 0; node i uses base-port + i (0: ephemeral ports)")
      ("host", cli::po::value(&host)->default_value(host), "address to bind (loopback by default; 0.0.0.0 exposes the nodes)")
      ("profile", cli::po::value(&profile_name)->default_value(profile_name), "model + GPU profile (see the list above)")
      ("model", cli::po::value(&model), "a known model (vLLM's --model; see the list above): its shape sets the KV cache and step times; also the served name, as typed, unless --served-model-name")
      ("gpu", cli::po::value(&gpu), "the GPU each node emulates (see the list above; default: the profile's)")
      ("tensor-parallel-size", cli::po::value(&tensor_parallel), "GPUs per node the model is split over (vLLM's -tp; default: the profile's, 1): weights and KV cache split, all-reduces added to each step")
      ("step-jitter", cli::po::value(&step_jitter)->default_value(0.0, "0"), "spread (log-space sigma, 0..1) of a seeded, mean-one random factor on every step time; 0: steps take exactly the model's time")
      ("served-model-name", cli::po::value(&served), "the name clients must send as `model`")
      ("api-key", cli::po::value(&api_key), "require 'Authorization: Bearer KEY' on /v1/*, /tokenize and /detokenize")
      ("seed", cli::po::value(&seed)->default_value(seed), "seed of output lengths, text and faults (node i uses seed + i)")
      ("block-size", cli::po::value(&block_size), "tokens per KV block (default: the profile's, 16)")
      ("max-num-seqs", cli::po::value(&max_num_seqs), "most sequences per engine step (default: the profile's)")
      ("max-num-batched-tokens", cli::po::value(&max_batched), "token budget per engine step (default: the profile's)")
      ("max-model-len", cli::po::value(&max_model_len), "prompt + output limit (default: the model's, 131072)")
      ("num-gpu-blocks-override", cli::po::value(&blocks_override), "KV-cache blocks, instead of the count from GPU memory")
      ("gpu-memory-utilization", cli::po::value(&gpu_util), "fraction of GPU memory vLLM may use (default 0.9); sets the KV blocks")
      ("enable-prompt-tokens-details", "usage objects carry prompt_tokens_details.cached_tokens")
      ("kv-events-endpoint", cli::po::value(&kv_endpoint),
       "publish KV-cache events (BlockStored, BlockRemoved, AllBlocksCleared) on this ZeroMQ PUB endpoint, as vLLM's "
       "--kv-events-config '{\"enable_kv_cache_events\":true,\"publisher\":\"zmq\",\"endpoint\":...}' does "
       "(e.g. tcp://*:5557; node i binds port+i; a * port picks a free one)")
      ("kv-events-replay-endpoint", cli::po::value(&kv_replay_endpoint),
       "with --kv-events-endpoint: a ZeroMQ ROUTER endpoint that resends kept batches from a given sequence number "
       "(vLLM's replay_endpoint, e.g. tcp://*:5558; node i binds port+i)")
      ("output-len-mean", cli::po::value(&output_mean), "mean natural output length in tokens when max_tokens does not decide (default 256)")
      ("vllm-version", cli::po::value(&vllm_version_name)->default_value(vllm_version_name),
       ("the vLLM version to emulate (" + sim::modelled_vllm_version_list() +
        "): GET /version, the metric families of /metrics, and the prefix-cache counters: before 0.26.0 a request "
        "waiting for KV blocks is counted again at every engine step (vLLM PR #48860 fixed it)").c_str())
      ("metrics-names", cli::po::value(&metrics_names), "/metrics names as a vLLM version emits them: v1 (vLLM >= 0.11: kv_cache_usage_perc, prefix_cache_*, "
       "inter_token_latency_seconds), both (vLLM 0.10.x: the old names too, marked deprecated) or v0 (older vLLM: "
       "gpu_cache_usage_perc, gpu_prefix_cache_*, time_per_output_token_seconds; the names the seed's script reads); "
       "default: both for --vllm-version 0.10.x, else v1")
      ("fault-error-rate", cli::po::value(&error_rate)->default_value(error_rate), "fraction of generation requests answered with an error status")
      ("fault-error-status", cli::po::value(&error_statuses)->default_value(error_statuses), "comma-separated statuses for those errors, picked uniformly")
      ("fault-close-rate", cli::po::value(&close_rate)->default_value(close_rate), "fraction of streams cut short (connection closed)")
      ("fault-reset-rate", cli::po::value(&reset_rate)->default_value(reset_rate), "fraction of generation requests whose connection is reset before any response byte (/health still answers 200)")
      ("fault-close-after-chunks", cli::po::value(&close_after)->default_value(close_after), "cut streams close after this many SSE events")
      ("fault-unhealthy-seconds", cli::po::value(&unhealthy_s)->default_value(unhealthy_s), "/health (and generation) answer 503 for this long after start")
      ("fault-delay-ms", cli::po::value(&delay_ms)->default_value(delay_ms), "network delay added before each generation response")
      ("fault-delay-jitter-ms", cli::po::value(&jitter_ms)->default_value(jitter_ms), "plus a uniform extra delay up to this")
      ("shutdown-grace-seconds", cli::po::value(&grace_s)->default_value(grace_s), "on SIGINT/SIGTERM, let running requests finish for this long")
      ("tokenizer", cli::po::value(&tokenizer_file),
       (std::string(tokenizer_flag_help) + "; /tokenize, usage counts, prefix blocks and chat prompts use its ids").c_str())
      ("tokenizer-config", cli::po::value(&tokenizer_config_file),
       "Hugging Face tokenizer_config.json whose chat_template renders chat requests (Llama 3 or ChatML/Qwen 2.5 "
       "shapes; others are refused); default: the tokenizer_config.json beside --tokenizer if there is one, else "
       "Llama 3.1's template")
      ("timing-log", cli::po::value(&timing_log), "write 'port prompt_hash received_ns first_token_ns' (CLOCK_MONOTONIC) per streamed request to this file, for driver timing checks");
  int code = cli::exit_ok;
  auto vm = cli::parse(argc, argv, usage_text(), options, nullptr, code);
  if (!vm) return code;

  planetserve::diagnostics diag;
  sim::profile_choice choice{.profile = profile_name, .model = model, .gpu = gpu, .tensor_parallel_size = tensor_parallel};
  if (vm->count("tensor-parallel-size") && tensor_parallel == 0)
    throw cli::usage_error("--tensor-parallel-size: give at least 1");
  auto chosen = sim::choose_profile(choice, diag);
  if (!chosen) throw cli::usage_error(profile_choice_error(diag.message, "--profile"));
  const sim::profile* prof = &*chosen;
  if (step_jitter < 0 || step_jitter > 1) throw cli::usage_error("--step-jitter: give a spread in [0, 1], e.g. 0.05");
  if (num_nodes == 0 || num_nodes > 4096) throw cli::usage_error("--num-nodes: give 1..4096");
  if (base_port > 65535 || (base_port != 0 && base_port + num_nodes - 1 > 65535))
    throw cli::usage_error("--base-port: ports " + std::to_string(base_port) + ".." +
                           std::to_string(base_port + num_nodes - 1) + " do not fit below 65536");
  const sim::vllm_version* version = sim::find_vllm_version(vllm_version_name);
  if (!version)
    throw cli::usage_error("--vllm-version: '" + vllm_version_name + "' is not modelled; give one of " +
                           sim::modelled_vllm_version_list());
  if (metrics_names.empty()) metrics_names = version->deprecated_names_too ? "both" : "v1";
  auto names = sim::parse_metric_names(metrics_names);
  if (!names) throw cli::usage_error("--metrics-names: give v1, v0 or both");
  if (error_rate < 0 || error_rate > 1) throw cli::usage_error("--fault-error-rate: give a fraction in [0, 1]");
  if (close_rate < 0 || close_rate > 1) throw cli::usage_error("--fault-close-rate: give a fraction in [0, 1]");
  if (reset_rate < 0 || reset_rate > 1) throw cli::usage_error("--fault-reset-rate: give a fraction in [0, 1]");
  // Bounded so that the millisecond conversion below is defined (1e300 or inf would not be).
  if (!(unhealthy_s >= 0 && unhealthy_s <= 1e7))
    throw cli::usage_error("--fault-unhealthy-seconds: give a duration from 0 to 10000000 seconds");
  if (!(grace_s >= 0 && grace_s <= 1e7))
    throw cli::usage_error("--shutdown-grace-seconds: give a duration from 0 to 10000000 seconds");
  if (vm->count("gpu-memory-utilization") && (gpu_util <= 0 || gpu_util > 1))
    throw cli::usage_error("--gpu-memory-utilization: give a fraction in (0, 1]");
  if (vm->count("output-len-mean") && output_mean < 1) throw cli::usage_error("--output-len-mean: give at least 1");

  sim::fleet_config fc;
  fc.num_nodes = num_nodes;
  fc.host = host;
  fc.base_port = static_cast<std::uint16_t>(base_port);
  sim::node_config& nc = fc.node;
  nc = sim::node_config::from_profile(*prof);
  if (!model.empty()) nc.served_model_name = model;
  if (!served.empty()) nc.served_model_name = served;
  nc.api_key = api_key;
  nc.engine.seed = seed;
  nc.metrics_names = *names;
  nc.vllm = *version;
  nc.enable_prompt_tokens_details = vm->count("enable-prompt-tokens-details") != 0;
  if (!kv_replay_endpoint.empty() && kv_endpoint.empty())
    throw cli::usage_error("--kv-events-replay-endpoint needs --kv-events-endpoint");
  nc.kv_events.endpoint = kv_endpoint;
  nc.kv_events.replay_endpoint = kv_replay_endpoint;
  if (vm->count("block-size")) {
    if (block_size == 0 || block_size > 256) throw cli::usage_error("--block-size: give 1..256 (vLLM uses 16)");
    nc.engine.block_size = block_size;
  }
  if (vm->count("max-num-seqs")) nc.engine.max_num_seqs = max_num_seqs;
  if (vm->count("max-num-batched-tokens")) nc.engine.max_num_batched_tokens = max_batched;
  if (vm->count("max-model-len")) nc.engine.max_model_len = max_model_len;
  if (vm->count("output-len-mean")) nc.engine.output_length.mean = output_mean;
  nc.engine.step_jitter = step_jitter;
  if (vm->count("gpu-memory-utilization")) nc.gpu_memory_utilization = gpu_util;
  if (vm->count("gpu-memory-utilization") || vm->count("block-size"))
    nc.engine.num_gpu_blocks =
        sim::kv_blocks_from_memory(prof->gpu_memory_gib, nc.gpu_memory_utilization, prof->weights_gib,
                                   prof->activation_reserve_gib, prof->kv_bytes_per_token, nc.engine.block_size);
  if (vm->count("num-gpu-blocks-override")) {
    nc.engine.num_gpu_blocks = blocks_override;
    nc.engine.num_gpu_blocks_overridden = true;
    nc.num_gpu_blocks_override = blocks_override;
  }
  if (auto ec = sim::engine::validate(nc.engine, diag)) throw cli::usage_error("engine settings (--max-model-len, --block-size, --max-num-seqs, ...): " + diag.message);
  nc.faults.error_rate = error_rate;
  nc.faults.error_statuses = parse_statuses(error_statuses);
  nc.faults.close_rate = close_rate;
  nc.faults.close_after_chunks = close_after;
  nc.faults.reset_rate = reset_rate;
  nc.faults.unhealthy_for = *planetserve::detail::checked_seconds<std::chrono::milliseconds>(unhealthy_s);
  nc.faults.added_delay = std::chrono::milliseconds(delay_ms);
  nc.faults.delay_jitter = std::chrono::milliseconds(jitter_ms);
  nc.faults.seed = seed;
  if (!tokenizer_file.empty()) nc.tokenizer = load_tokenizer_flag(tokenizer_file);
  if (tokenizer_config_file.empty() && !tokenizer_file.empty()) {
    // vLLM takes the chat template from the tokenizer's folder: so does the emulator.
    const auto beside = std::filesystem::path(tokenizer_file).parent_path() / "tokenizer_config.json";
    std::error_code fec;
    if (std::filesystem::is_regular_file(beside, fec)) tokenizer_config_file = beside.string();
  }
  if (!tokenizer_config_file.empty()) {
    auto tpl = sim::load_chat_template(tokenizer_config_file, diag);
    if (!tpl) throw cli::usage_error("--tokenizer-config: " + diag.message);
    nc.chat = *tpl;
  }

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> timing_file(nullptr, &std::fclose);
  if (!timing_log.empty()) {
    timing_file.reset(std::fopen(timing_log.c_str(), "w"));
    if (!timing_file) {
      std::cerr << "pswm sim: cannot write --timing-log " << timing_log << ": " << std::strerror(errno) << "\n";
      return cli::exit_failure;
    }
    nc.on_timing = [f = timing_file.get()](const sim::request_timing& t) {
      const auto ns = [](std::chrono::steady_clock::time_point tp) {
        return static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count());
      };
      std::fprintf(f, "%u %016llx %lld %lld\n", static_cast<unsigned>(t.port),
                   static_cast<unsigned long long>(t.prompt_hash), ns(t.received), ns(t.first_token));
    };
  }

  boost::asio::io_context io(1);
  sim::fleet nodes(io.get_executor(), fc);
  if (auto ec = nodes.start(diag)) {
    std::cerr << "pswm sim: " << diag.message << "\n";
    return cli::exit_failure;
  }
  const auto urls = nodes.urls();
  for (std::size_t i = 0; i < urls.size(); ++i)
    std::cout << "node " << i << ": " << urls[i] << "  model=" << nc.served_model_name << " profile=" << prof->name
              << " kv_blocks=" << nc.engine.num_gpu_blocks
              << (nodes.node(i).kv_events_endpoint().empty() ? std::string()
                                                             : " kv_events=" + nodes.node(i).kv_events_endpoint())
              << (nodes.node(i).kv_events_replay_endpoint().empty()
                      ? std::string()
                      : " kv_events_replay=" + nodes.node(i).kv_events_replay_endpoint())
              << "\n";
  std::cout << std::flush;

  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);  // SIGHUP: as SIGTERM
  const auto grace = *planetserve::detail::checked_seconds<std::chrono::milliseconds>(grace_s);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    std::cerr << "pswm sim: stopping (up to " << grace_s << " s for running requests)\n";
    // A second signal stops at once.
    signals.async_wait([&](const boost::system::error_code& ec2, int) {
      if (!ec2) io.stop();
    });
    boost::asio::co_spawn(io, nodes.async_shutdown(grace), [&](const std::exception_ptr& e) {
      signals.cancel();
      io.stop();
      if (e) std::rethrow_exception(e);  // out of io.run(): main reports it, exit 1
    });
  });
  io.run();
  std::cerr << "pswm sim: stopped\n";
  return cli::exit_ok;
}

}  // namespace pswm
