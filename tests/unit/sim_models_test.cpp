// SPDX-License-Identifier: MIT
// Tests for the emulator's models, GPUs and step-time model: shapes from config.json, vLLM
// defaults per GPU, tensor parallelism, CUDA-graph padding, prefill steps, seeded jitter.
#include <planetserve/sim/engine.hpp>
#include <planetserve/sim/node_server.hpp>
#include <planetserve/sim/profile.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace planetserve::sim;
using planetserve::diagnostics;
using planetserve::tokenize::token_id;

namespace {

profile chosen(std::string model, std::string gpu, std::size_t tp = 0) {
  diagnostics d;
  auto p = choose_profile({.profile = "", .model = std::move(model), .gpu = std::move(gpu), .tensor_parallel_size = tp}, d);
  INFO(d.message);
  REQUIRE(p.has_value());
  return *p;
}

std::vector<token_id> tokens(std::size_t n, token_id base) {
  std::vector<token_id> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = base + static_cast<token_id>(i);
  return v;
}

sampling_params exactly(std::size_t n) {
  sampling_params p;
  p.max_tokens = n;
  p.ignore_eos = true;
  return p;
}

// Runs `batch` requests of `in` tokens and `out` outputs to the end; returns every step.
std::vector<step_result> run_batch(engine_config c, std::size_t batch, std::size_t in, std::size_t out) {
  engine e(std::move(c));
  diagnostics d;
  for (std::size_t i = 0; i < batch; ++i)
    REQUIRE_FALSE(e.add_request("r" + std::to_string(i), tokens(in, static_cast<token_id>(1000 * (i + 1))), exactly(out),
                                time_point{}, d));
  std::vector<step_result> steps;
  while (auto t = e.next_step_time()) steps.push_back(e.step(*t));
  return steps;
}

double seconds(time_point t) { return std::chrono::duration<double>(t).count(); }

}  // namespace

TEST_CASE("sim models: parameter counts from the config shapes match the published sizes", "[sim][profile]") {
  // Published sizes: Llama 3.1 8B 8.03e9, 70B 70.55e9, Qwen2.5-7B 7.62e9, DeepSeek-R1-Distill-Qwen-14B 14.77e9.
  CHECK(find_model("meta-llama/Llama-3.1-8B-Instruct")->parameters() == Approx(8.03e9).epsilon(0.001));
  CHECK(find_model("llama-3.1-70b")->parameters() == Approx(70.55e9).epsilon(0.001));
  CHECK(find_model("Qwen2.5-7B-Instruct")->parameters() == Approx(7.62e9).epsilon(0.002));
  CHECK(find_model("DEEPSEEK-AI/deepseek-r1-distill-qwen-14b")->parameters() == Approx(14.77e9).epsilon(0.002));
  CHECK(find_model("llama-2-7b") == nullptr);
  CHECK(find_gpu("h200")->memory_bandwidth > find_gpu("H100")->memory_bandwidth);
  CHECK(find_gpu("a100") == find_gpu("A100-80GB"));
  CHECK(find_gpu("tpu-v5") == nullptr);
}

TEST_CASE("sim models: KV bytes, context and batch defaults follow the model and the GPU", "[sim][profile]") {
  const auto q14 = chosen("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", "A100-80GB");
  CHECK(q14.kv_bytes_per_token == 2 * 48 * 8 * 128 * 2);
  CHECK(q14.max_num_batched_tokens == 16384);  // the seed's --max_num_batched_tokens
  CHECK(q14.max_model_len == 131072);
  CHECK(q14.num_gpu_blocks * q14.block_size >= q14.max_model_len);
  const auto* seed14 = find_profile("deepseek-r1-distill-qwen-14b-a100-80gb");
  REQUIRE(seed14);
  CHECK(seed14->max_num_batched_tokens == 16384);

  const auto qwen7 = chosen("qwen2.5-7b", "A6000");
  CHECK(qwen7.kv_bytes_per_token == 2 * 28 * 4 * 128 * 2);
  CHECK(qwen7.max_model_len == 32768);
  CHECK(qwen7.max_num_batched_tokens == 2048);

  // vLLM's larger defaults on >= 70 GiB GPUs that are not A100s.
  const auto h200 = chosen("llama-3.1-8b", "H200");
  CHECK(h200.max_num_seqs == 1024);
  CHECK(h200.max_num_batched_tokens == 8192);
  CHECK(h200.num_gpu_blocks > chosen("llama-3.1-8b", "H100").num_gpu_blocks);
  const auto a100_40 = chosen("llama-3.1-8b", "a100-40gb");
  CHECK(a100_40.max_num_seqs == 256);
  CHECK(a100_40.num_gpu_blocks < default_profile().num_gpu_blocks);

  // The node serves the model under its id and shows its cache in vllm:cache_config_info.
  const auto node = node_config::from_profile(q14);
  CHECK(node.served_model_name == "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B");
  CHECK(node.engine.max_num_batched_tokens == 16384);
  CHECK(node.engine.num_gpu_blocks == q14.num_gpu_blocks);
  CHECK(node.engine.max_model_len == 131072);
}

TEST_CASE("sim models: unknown names are refused with the known ones", "[sim][profile]") {
  diagnostics d;
  auto m = choose_profile({.profile = "", .model = "gpt-5", .gpu = "", .tensor_parallel_size = 0}, d);
  REQUIRE_FALSE(m.has_value());
  for (const auto& known : known_models()) CHECK(d.message.find(known.id) != std::string::npos);
  CHECK(d.message.find("gpt-5") != std::string::npos);

  d.clear();
  auto g = choose_profile({.profile = "", .model = "", .gpu = "B200", .tensor_parallel_size = 0}, d);
  REQUIRE_FALSE(g.has_value());
  for (const auto& known : known_gpus()) CHECK(d.message.find(known.name) != std::string::npos);

  d.clear();
  auto p = choose_profile({.profile = "tpu", .model = "", .gpu = "", .tensor_parallel_size = 0}, d);
  REQUIRE_FALSE(p.has_value());
  CHECK(d.message.find("llama-3.1-8b-a100-80gb") != std::string::npos);

  // 70B does not fit on one 80 GB GPU; 3 does not divide 32 heads.
  d.clear();
  auto big = choose_profile({.profile = "", .model = "llama-3.1-70b", .gpu = "A100-80GB", .tensor_parallel_size = 1}, d);
  REQUIRE_FALSE(big.has_value());
  CHECK(d.message.find("--tensor-parallel-size") != std::string::npos);
  d.clear();
  auto odd = choose_profile({.profile = "", .model = "llama-3.1-8b", .gpu = "H100", .tensor_parallel_size = 3}, d);
  REQUIRE_FALSE(odd.has_value());
  CHECK(d.message.find("32 attention heads") != std::string::npos);
}

TEST_CASE("sim models: tensor parallelism splits weights and KV and adds all-reduces", "[sim][profile]") {
  const auto tp1 = chosen("llama-3.1-8b", "H100", 1), tp2 = chosen("llama-3.1-8b", "H100", 2);
  CHECK(tp2.weights_gib == Approx(tp1.weights_gib / 2));
  CHECK(tp2.kv_bytes_per_token == tp1.kv_bytes_per_token / 2);
  CHECK(tp2.num_gpu_blocks > tp1.num_gpu_blocks);
  CHECK(tp2.cost.fixed_s < tp1.cost.fixed_s);
  CHECK(tp2.cost.per_prefill_token_s < tp1.cost.per_prefill_token_s);
  CHECK(tp1.cost.allreduce_per_token_s == 0.0);
  CHECK(tp2.cost.allreduce_per_token_s > 0.0);
  CHECK(tp2.cost.allreduce_per_step_s > 0.0);

  // Decode gets faster with TP, but less than TP-fold: host time and all-reduces do not split.
  auto itl = [](const profile& p) {
    const auto steps = run_batch(engine_config::from_profile(p), 1, 512, 33);
    return seconds(steps.back().end - steps[1].start) / 32.0;
  };
  const double t1 = itl(tp1), t2 = itl(tp2);
  CHECK(t2 < t1);
  CHECK(t2 > t1 / 2);

  const auto* l70 = find_profile("llama-3.1-70b-h100-tp4");
  REQUIRE(l70);
  CHECK(l70->tensor_parallel_size == 4);
  CHECK(l70->kv_bytes_per_token == 2 * 80 * 2 * 128 * 2);  // 8 KV heads over 4 GPUs
  CHECK(l70->model == "meta-llama/Llama-3.1-70B-Instruct");
  // A bigger model on more GPUs: still slower per token than 8B on one.
  CHECK(itl(*l70) > t1);
}

TEST_CASE("sim engine: decode batches are padded to vLLM's CUDA-graph sizes", "[sim][engine]") {
  CHECK(cuda_graph_batch_size(1, 256) == 1);
  CHECK(cuda_graph_batch_size(2, 256) == 2);
  CHECK(cuda_graph_batch_size(3, 256) == 4);
  CHECK(cuda_graph_batch_size(5, 256) == 8);
  CHECK(cuda_graph_batch_size(17, 256) == 24);
  CHECK(cuda_graph_batch_size(250, 256) == 256);
  CHECK(cuda_graph_batch_size(257, 256) == 272);
  CHECK(cuda_graph_batch_size(512, 256) == 512);
  CHECK(cuda_graph_batch_size(513, 1024) == 513);  // above 512: eager
  CHECK(cuda_graph_batch_size(19, 10) == 19);      // graphs only up to 2 x max_num_seqs = 20, 24 not captured
  CHECK(cuda_graph_batch_size(15, 10) == 16);

  // Three decoding requests run as a batch of 4: the padded slot costs a decode sequence.
  auto c = engine_config::from_profile(default_profile());
  c.cost = step_cost{};
  c.cost.per_decode_seq_s = 1e-3;
  c.cost.per_prefill_token_s = 1e-6;
  const auto steps = run_batch(c, 3, 64, 4);
  REQUIRE(steps.size() == 4);
  CHECK(steps[0].prefill_tokens == 192);
  CHECK(steps[0].padded_decode_seqs == 0);
  for (std::size_t i = 1; i < steps.size(); ++i) {
    CHECK(steps[i].decode_seqs == 3);
    CHECK(steps[i].padded_decode_seqs == 4);
    CHECK(seconds(steps[i].end - steps[i].start) == Approx(4e-3));
  }
}

TEST_CASE("sim engine: a prefill step pays the larger of weight read and compute, not both", "[sim][engine]") {
  auto c = engine_config::from_profile(default_profile());
  c.cost = step_cost{};
  c.cost.fixed_s = 10e-3;
  c.cost.per_prefill_token_s = 10e-6;
  auto first_step = [&](std::size_t len) {
    const auto steps = run_batch(c, 1, len, 1);
    return seconds(steps.front().end - steps.front().start);
  };
  CHECK(first_step(100) == Approx(10e-3));    // 1 ms of compute hides under the 10 ms weight read
  CHECK(first_step(2000) == Approx(20e-3));   // 20 ms of compute: the weight read overlaps it
  c.cost.cpu_per_step_s = 1e-3;
  c.cost.cpu_per_seq_s = 0.5e-3;
  CHECK(first_step(100) == Approx(11.5e-3));  // host time adds, per step and per sequence
}

TEST_CASE("sim engine: step jitter is seeded, reproducible and mean-one", "[sim][engine]") {
  auto c = engine_config::from_profile(default_profile());
  auto ends = [](engine_config cfg) {
    std::vector<double> v;
    for (const auto& s : run_batch(cfg, 4, 200, 100)) v.push_back(seconds(s.end));
    return v;
  };
  const auto plain = ends(c);
  c.step_jitter = 0.1;
  c.seed = 1;
  const auto a = ends(c), b = ends(c);
  CHECK(a == b);
  c.seed = 2;
  const auto other = ends(c);
  CHECK(other != a);
  REQUIRE(a.size() == plain.size());
  CHECK(a != plain);
  // Over ~100 steps the total stays within a few percent of the noiseless run.
  CHECK(a.back() == Approx(plain.back()).epsilon(0.05));
  CHECK(other.back() == Approx(plain.back()).epsilon(0.05));
  c.step_jitter = 1.5;
  diagnostics d;
  CHECK(engine::validate(c, d));
}
