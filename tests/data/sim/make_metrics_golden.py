#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Writes metrics_{v1,v0,both,v1_0_26}.txt: what Python's prometheus_client prints for the metric
# definitions of vLLM's PrometheusStatLogger (vllm/v1/metrics/loggers.py) holding the state
# that tests/unit/sim_metrics_test.cpp builds. Run with Debian's python3-prometheus-client
# (0.16) to regenerate; the tests compare the C++ writer with these files byte for byte.
import time
from unittest import mock

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CREATED = 1764270000.123456
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
MAX_MODEL_LEN = 131072


def build_1_2_5(max_value):
    out, e = [], 0
    while True:
        for m in (1, 2, 5):
            v = m * 10 ** e
            if v > max_value:
                return out
            out.append(v)
        e += 1


TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
        40.0, 80.0, 160.0, 640.0, 2560.0]
PER_TOKEN = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
             40.0, 80.0]
LATENCY = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
           480.0, 960.0, 1920.0, 7680.0]
ITER = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]

OBS = {
    "prompt": [104, 104, 104, 104],
    "generation": [1, 2, 3, 300],
    "iteration": [416, 0, 4],
    "max_gen": [1, 1, 1, 1],
    "n": [1, 1, 1, 1],
    "max_tokens": [1, 1, 1, 300],
    "ttft": [0.05, 0.3, 0.0123, 2.0],
    "itl": [0.012, 0.02, 0.1],
    "req_tpot": [0.0, 0.015],
    "e2e": [1.2, 0.31],
    "queue": [0.0, 0.5],
    "inference": [1.0],
    "prefill": [0.1],
    "decode": [0.9],
    "prefill_kv": [104, 104, 8, 8],
}


def page(mode):
    # v1_0_26: the V1 names plus the families vLLM 0.26.0 added (--vllm-version 0.26.0).
    new = mode == "v1_0_26"
    if new:
        mode = "v1"
    reg = CollectorRegistry()
    labelnames = ["model_name"] if mode == "v0" else ["model_name", "engine"]
    lv = [MODEL] if mode == "v0" else [MODEL, "0"]

    def gauge(name, doc, value):
        Gauge(name, doc, labelnames, registry=reg).labels(*lv).set(value)

    def counter(name, doc, value):
        Counter(name, doc, labelnames, registry=reg).labels(*lv).inc(value)

    def hist(name, doc, buckets, values):
        h = Histogram(name, doc, labelnames, buckets=buckets, registry=reg).labels(*lv)
        for v in values:
            h.observe(v)

    both, v0, v1 = mode == "both", mode == "v0", mode == "v1"
    gauge("vllm:num_requests_running",
          "Number of requests currently running on GPU." if v0 else "Number of requests in model execution batches.", 3)
    gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", 2)
    if new:
        g = Gauge("vllm:num_requests_waiting_by_reason",
                  "Number of waiting requests by reason. Reason labels: 'capacity' = waiting for scheduling capacity; "
                  "'deferred' = deferred by transient constraints (LoRA budget, KV transfer, blocked status). Sum of "
                  "all reasons equals vllm:num_requests_waiting.", labelnames + ["reason"], registry=reg)
        g.labels(*lv, "capacity").set(2)
        g.labels(*lv, "deferred").set(0)
    if v0 or both:
        gauge("vllm:gpu_cache_usage_perc",
              "GPU KV-cache usage. 1 means 100 percent usage." + (
                  "DEPRECATED: Use vllm:kv_cache_usage_perc instead." if both else ""), 0.25)
        if v0:
            gauge("vllm:gpu_prefix_cache_hit_rate", "GPU prefix cache block hit rate.", 192 / 416)
        counter("vllm:gpu_prefix_cache_queries",
                "GPU prefix cache queries, in terms of number of queriedtokens. DEPRECATED: Use "
                "vllm:prefix_cache_queries instead." if both else
                "GPU prefix cache queries, in terms of number of queried tokens.", 416)
        counter("vllm:gpu_prefix_cache_hits",
                "GPU prefix cache hits, in terms of number of cached tokens. DEPRECATED: Use "
                "vllm:prefix_cache_hits instead." if both else
                "GPU prefix cache hits, in terms of number of cached tokens.", 192)
    if v1 or both:
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", 0.25)
        counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", 416)
        counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", 192)
    counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", 1)
    counter("vllm:prompt_tokens", "Number of prefill tokens processed.", 416)
    if new:
        src = Counter("vllm:prompt_tokens_by_source", "Number of prompt tokens by source.", labelnames + ["source"],
                      registry=reg)
        for source, v in (("local_compute", 224), ("local_cache_hit", 192), ("external_kv_transfer", 0)):
            src.labels(*lv, source).inc(v)
        counter("vllm:prompt_tokens_cached", "Number of cached prompt tokens (local + external).", 192)
    counter("vllm:generation_tokens", "Number of generation tokens processed.", 1234567)
    rs = Counter("vllm:request_success", "Count of successfully processed requests.",
                 labelnames + ["finished_reason"], registry=reg)
    reasons = (("stop", 3), ("length", 1), ("abort", 0))
    if new:
        reasons += (("error", 0), ("repetition", 0))
    for reason, v in reasons:
        rs.labels(*lv, reason).inc(v)
    hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", build_1_2_5(MAX_MODEL_LEN),
         OBS["prompt"])
    hist("vllm:request_generation_tokens", "Number of generation tokens processed.", build_1_2_5(MAX_MODEL_LEN),
         OBS["generation"])
    hist("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", ITER, OBS["iteration"])
    hist("vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens.",
         build_1_2_5(MAX_MODEL_LEN), OBS["max_gen"])
    hist("vllm:request_params_n", "Histogram of the n request parameter.", [1, 2, 5, 10, 20], OBS["n"])
    hist("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.",
         build_1_2_5(MAX_MODEL_LEN), OBS["max_tokens"])
    hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT, OBS["ttft"])
    if v0 or both:
        hist("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds." + (
            "DEPRECATED: Use vllm:inter_token_latency_seconds instead." if both else ""), PER_TOKEN, OBS["itl"])
    if v1 or both:
        hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", PER_TOKEN,
             OBS["itl"])
    if v1:
        hist("vllm:request_time_per_output_token_seconds",
             "Histogram of time_per_output_token_seconds per request.", PER_TOKEN, OBS["req_tpot"])
    hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", LATENCY, OBS["e2e"])
    hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", LATENCY,
         OBS["queue"])
    hist("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", LATENCY,
         OBS["inference"])
    hist("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", LATENCY,
         OBS["prefill"])
    hist("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", LATENCY,
         OBS["decode"])
    if new:
        hist("vllm:request_prefill_kv_computed_tokens",
             "Histogram of new KV tokens computed during prefill (excluding cached tokens).",
             build_1_2_5(MAX_MODEL_LEN), OBS["prefill_kv"])
    info = {"block_size": "16", "cache_dtype": "auto", "calculate_kv_scales": "False", "cpu_offload_gb": "0",
            "enable_prefix_caching": "True", "gpu_memory_utilization": "0.9", "is_attention_free": "False",
            "num_cpu_blocks": "None", "num_gpu_blocks": "28029", "num_gpu_blocks_override": "None",
            "prefix_caching_hash_algo": "builtin", "sliding_window": "None", "swap_space": "4",
            "swap_space_bytes": "4294967296"}
    if not v0:
        info["engine"] = "0"
    Gauge("vllm:cache_config_info", "Information of the LLMEngine CacheConfig", list(info.keys()),
          registry=reg).labels(**info).set(1)
    return prometheus_client.generate_latest(reg).decode()


if __name__ == "__main__":
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    with mock.patch("time.time", return_value=CREATED):
        for mode in ("v1", "v0", "both", "v1_0_26"):
            with open(os.path.join(here, f"metrics_{mode}.txt"), "w") as f:
                f.write(page(mode))
