// SPDX-License-Identifier: MIT
// Compiled body of sim::engine_stats: vLLM's bucket lists.
#pragma once

#include <planetserve/sim/engine_stats.hpp>

namespace planetserve::sim {

const char* to_string(finish_reason r) noexcept {
  switch (r) {
    case finish_reason::stop: return "stop";
    case finish_reason::length: return "length";
    case finish_reason::abort: return "abort";
    case finish_reason::error: return "error";
    case finish_reason::repetition: return "repetition";
  }
  return "stop";
}

std::vector<double> vllm_buckets::one_two_five(std::size_t max_value) {
  std::vector<double> out;
  // Integer arithmetic, as vLLM's build_buckets does, so bounds are exact.
  for (std::uint64_t scale = 1;; scale *= 10) {
    for (std::uint64_t m : {1U, 2U, 5U}) {
      const std::uint64_t v = m * scale;
      if (v > max_value) return out;
      out.push_back(static_cast<double>(v));
    }
  }
}

std::vector<double> vllm_buckets::ttft() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
}

std::vector<double> vllm_buckets::per_token() {
  return {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
}

std::vector<double> vllm_buckets::request_latency() {
  return {0.3,  0.5,  0.8,  1.0,  1.5,  2.0,   2.5,   5.0,   10.0,  15.0,  20.0,
          30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
}

std::vector<double> vllm_buckets::iteration_tokens() {
  return {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
}

std::vector<double> vllm_buckets::params_n() { return {1, 2, 5, 10, 20}; }

engine_stats::engine_stats(std::size_t max_model_len)
    : request_prompt_tokens(vllm_buckets::one_two_five(max_model_len)),
      request_generation_tokens(vllm_buckets::one_two_five(max_model_len)),
      iteration_tokens(vllm_buckets::iteration_tokens()),
      request_max_num_generation_tokens(vllm_buckets::one_two_five(max_model_len)),
      request_params_n(vllm_buckets::params_n()),
      request_params_max_tokens(vllm_buckets::one_two_five(max_model_len)),
      time_to_first_token(vllm_buckets::ttft()),
      inter_token_latency(vllm_buckets::per_token()),
      request_time_per_output_token(vllm_buckets::per_token()),
      e2e_request_latency(vllm_buckets::request_latency()),
      request_queue_time(vllm_buckets::request_latency()),
      request_inference_time(vllm_buckets::request_latency()),
      request_prefill_time(vllm_buckets::request_latency()),
      request_decode_time(vllm_buckets::request_latency()),
      request_prefill_kv_computed_tokens(vllm_buckets::one_two_five(max_model_len)) {}

}  // namespace planetserve::sim
