#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Writes realistic vLLM /metrics pages with Debian's python3-prometheus-client (the library vLLM
# uses), plus the values a correct parser must read from each page (<page>.expected.json).
# Run: /usr/bin/python3 tests/data/prom/generate_pages.py   (tests read the committed output)
import json
import os
import random
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = "meta-llama/Llama-3.1-8B-Instruct"

TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
TOKEN_LAT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
                     7.5, 10.0, 20.0, 40.0, 80.0]
REQUEST_LAT_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                       60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]
V0_TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                   7.5, 10.0]
V0_TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5]
V0_E2E_BUCKETS = [1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0]
FINISH_REASONS = ["stop", "length", "abort"]
MAX_MODEL_LEN = 131072


def buckets_1_2_5(max_value):
    out, exp = [], 0
    while True:
        for m in (1, 2, 5):
            v = m * 10 ** exp
            if v > max_value:
                return out
            out.append(v)
        exp += 1


def cache_config(engine):
    labels = {"block_size": "16", "cache_dtype": "auto", "calculate_kv_scales": "False",
              "cpu_offload_gb": "0", "enable_prefix_caching": "True",
              "gpu_memory_utilization": "0.9", "is_attention_free": "False",
              "num_cpu_blocks": "None", "num_gpu_blocks": "27059",
              "num_gpu_blocks_override": "None", "prefix_caching_hash_algo": "builtin",
              "sliding_window": "None", "swap_space": "4", "swap_space_bytes": "4294967296"}
    if engine is not None:
        labels["engine"] = engine
    return labels


class Page:
    """Builds one vLLM-like registry and tracks the expected snapshot while observing."""

    def __init__(self, pc, registry, engines, generation, legacy_too, multiprocess=False):
        self.pc, self.reg, self.engines, self.gen = pc, registry, engines, generation
        self.legacy_too, self.mp = legacy_too, multiprocess
        self.exp = {k: 0.0 for k in ("kv_cache_usage", "prefix_cache_queries", "prefix_cache_hits",
                                      "ttft_sum", "ttft_count", "tpot_sum", "tpot_count",
                                      "e2e_sum", "e2e_count", "prompt_tokens",
                                      "generation_tokens", "request_success", "num_running",
                                      "num_waiting")}
        self.exp["block_size"] = 16
        self.exp["num_gpu_blocks"] = 27059
        labelnames = ["model_name", "engine"] if generation == "v1" else ["model_name"]
        self.labelnames = labelnames
        G, C, H = pc.Gauge, pc.Counter, pc.Histogram
        gkw = {"registry": registry}

        def gauge(name, doc, **kw):
            if multiprocess:
                # vLLM asks for "mostrecent", which this older client lacks; one process makes "max" equal.
                kw.setdefault("multiprocess_mode", "max")
            return G(name, doc, labelnames=kw.pop("labelnames", labelnames), **gkw, **kw)

        def counter(name, doc, extra=()):
            return C(name, doc, labelnames=labelnames + list(extra), **gkw)

        def hist(name, doc, buckets):
            return H(name, doc, labelnames=labelnames, buckets=buckets, **gkw)

        self.running = gauge("vllm:num_requests_running", "Number of requests in model execution batches.")
        self.waiting = gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.")
        if generation == "v0":
            self.swapped = gauge("vllm:num_requests_swapped", "Number of requests swapped to CPU.")
            self.gpu_usage = gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.")
            self.cpu_usage = gauge("vllm:cpu_cache_usage_perc", "CPU KV-cache usage. 1 means 100 percent usage.")
            self.cpu_hit = gauge("vllm:cpu_prefix_cache_hit_rate", "CPU prefix cache block hit rate.")
            self.gpu_hit = gauge("vllm:gpu_prefix_cache_hit_rate", "GPU prefix cache block hit rate.")
        else:
            if legacy_too:
                self.gpu_usage = gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead.")
                self.gpu_q = counter("vllm:gpu_prefix_cache_queries", "GPU prefix cache queries, in terms of number of queriedtokens. DEPRECATED: Use vllm:prefix_cache_queries instead.")
                self.gpu_h = counter("vllm:gpu_prefix_cache_hits", "GPU prefix cache hits, in terms of number of cached tokens. DEPRECATED: Use vllm:prefix_cache_hits instead.")
            self.kv_usage = gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.")
            self.pq = counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.")
            self.ph = counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.")
        self.preempt = counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.")
        self.prompt = counter("vllm:prompt_tokens", "Number of prefill tokens processed.")
        self.gen_tokens = counter("vllm:generation_tokens", "Number of generation tokens processed.")
        self.success = counter("vllm:request_success", "Count of successfully processed requests.", ["finished_reason"])
        b125 = buckets_1_2_5(MAX_MODEL_LEN)
        self.req_prompt = hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", b125)
        self.req_gen = hist("vllm:request_generation_tokens", "Number of generation tokens processed.", b125)
        self.iter_tokens = hist("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.",
                                [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384])
        self.max_gen = hist("vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens.", b125)
        self.params_n = hist("vllm:request_params_n", "Histogram of the n request parameter.", [1, 2, 5, 10, 20])
        self.params_max = hist("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", b125)
        if generation == "v0":
            self.ttft = hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", V0_TTFT_BUCKETS)
            self.tpot = hist("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", V0_TPOT_BUCKETS)
            self.itl = None
            self.e2e = hist("vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", V0_E2E_BUCKETS)
        else:
            self.ttft = hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS)
            self.tpot = hist("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.DEPRECATED: Use vllm:inter_token_latency_seconds instead.", TOKEN_LAT_BUCKETS)
            self.itl = hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", TOKEN_LAT_BUCKETS)
            self.e2e = hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", REQUEST_LAT_BUCKETS)
            self.req_tpot = hist("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.", TOKEN_LAT_BUCKETS)
        self.queue = hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", REQUEST_LAT_BUCKETS)
        self.infer = hist("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", REQUEST_LAT_BUCKETS)
        self.prefill = hist("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", REQUEST_LAT_BUCKETS)
        self.decode = hist("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", REQUEST_LAT_BUCKETS)
        self.per_prefill = hist("vllm:time_per_prefill_token_request_seconds", "Time spent per token during prefill  phase in seconds",
                                [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0])
        info_labels = list(cache_config("0" if generation == "v1" else None).keys())
        info = G("vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
                 labelnames=info_labels, registry=registry,
                 **({"multiprocess_mode": "max"} if multiprocess else {}))
        for e in (engines if generation == "v1" else [None]):
            info.labels(**cache_config(e)).set(1)

    def lab(self, engine):
        return (MODEL, engine) if self.gen == "v1" else (MODEL,)

    def run(self, rng, requests_per_engine):
        e = self.exp
        usages = []
        for engine in self.engines:
            L = self.lab(engine)
            running, waiting = rng.randint(0, 40), rng.randint(0, 12)
            self.running.labels(*L).set(running)
            self.waiting.labels(*L).set(waiting)
            e["num_running"] += running
            e["num_waiting"] += waiting
            usage = round(rng.uniform(0.05, 0.95), 6)
            usages.append(usage)
            if self.gen == "v0":
                self.gpu_usage.labels(*L).set(usage)
                self.cpu_usage.labels(*L).set(0.0)
                self.swapped.labels(*L).set(0)
                self.gpu_hit.labels(*L).set(0.42)
                self.cpu_hit.labels(*L).set(0.0)
            else:
                self.kv_usage.labels(*L).set(usage)
                if self.legacy_too:
                    # The deprecated twin carries a different value so a test can see which won.
                    self.gpu_usage.labels(*L).set(0.999)
            for _ in range(requests_per_engine):
                prompt = rng.randint(20, 3000)
                out = rng.randint(1, 600)
                ttft = rng.uniform(0.002, 3.0)
                e2e = ttft + out * rng.uniform(0.01, 0.08)
                self.prompt.labels(*L).inc(prompt)
                self.gen_tokens.labels(*L).inc(out)
                e["prompt_tokens"] += prompt
                e["generation_tokens"] += out
                reason = rng.choice(FINISH_REASONS)
                self.success.labels(*L, reason).inc()
                e["request_success"] += 1
                self.req_prompt.labels(*L).observe(prompt)
                self.req_gen.labels(*L).observe(out)
                self.max_gen.labels(*L).observe(out)
                self.params_n.labels(*L).observe(1)
                self.params_max.labels(*L).observe(1024)
                self.iter_tokens.labels(*L).observe(prompt)
                self.ttft.labels(*L).observe(ttft)
                e["ttft_sum"] += ttft
                e["ttft_count"] += 1
                self.e2e.labels(*L).observe(e2e)
                e["e2e_sum"] += e2e
                e["e2e_count"] += 1
                self.queue.labels(*L).observe(rng.uniform(0, 0.5))
                self.infer.labels(*L).observe(e2e - ttft)
                self.prefill.labels(*L).observe(ttft)
                self.decode.labels(*L).observe(e2e - ttft)
                self.per_prefill.labels(*L).observe(ttft / prompt)
                if self.gen != "v0":
                    self.req_tpot.labels(*L).observe((e2e - ttft) / max(out - 1, 1))
                    q = prompt
                    h = 16 * rng.randint(0, prompt // 16)
                    self.pq.labels(*L).inc(q)
                    self.ph.labels(*L).inc(h)
                    e["prefix_cache_queries"] += q
                    e["prefix_cache_hits"] += h
                    if self.legacy_too:
                        self.gpu_q.labels(*L).inc(q + 1)
                        self.gpu_h.labels(*L).inc(h + 1)
                for _ in range(out - 1):
                    gap = rng.uniform(0.008, 0.09)
                    if self.itl is not None:
                        self.itl.labels(*L).observe(gap)
                        e["tpot_sum"] += gap
                        e["tpot_count"] += 1
                        # TPOT (deprecated) gets a scaled copy so a test can tell them apart.
                        self.tpot.labels(*L).observe(gap * 2)
                    else:
                        self.tpot.labels(*L).observe(gap)
                        e["tpot_sum"] += gap
                        e["tpot_count"] += 1
        e["kv_cache_usage"] = sum(usages) / len(usages)
        e["generation"] = self.gen
        e["engines"] = len(self.engines)


def http_families(pc, registry, rng):
    # prometheus-fastapi-instrumentator's families, as vLLM's API server exposes them.
    req = pc.Counter("http_requests", "Total number of requests by method, status and handler.",
                     ["handler", "method", "status"], registry=registry)
    size_in = pc.Summary("http_request_size_bytes", "Content length of incoming requests by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. ",
                         ["handler"], registry=registry)
    size_out = pc.Summary("http_response_size_bytes", "Content length of outgoing responses by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. ",
                          ["handler"], registry=registry)
    highr = pc.Histogram("http_request_duration_highr_seconds", "Latency with many buckets but no API specific labels. Made for more accurate percentile calculations. ",
                         buckets=[0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 7.5, 10.0, 30.0, 60.0],
                         registry=registry)
    dur = pc.Histogram("http_request_duration_seconds", "Latency with only few buckets by handler. Made to be only used if aggregation by handler is important. ",
                       ["handler", "method"], buckets=[0.1, 0.5, 1.0], registry=registry)
    for handler, method in (("/v1/completions", "POST"), ("/v1/chat/completions", "POST"),
                            ("/metrics", "GET"), ("/health", "GET")):
        for _ in range(rng.randint(3, 30)):
            d = rng.uniform(0.001, 9.0)
            req.labels(handler, method, "2xx").inc()
            size_in.labels(handler).observe(rng.randint(0, 4000))
            size_out.labels(handler).observe(rng.randint(0, 40000))
            highr.observe(d)
            dur.labels(handler, method).observe(d)


def write(name, text, expected):
    with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    if expected is not None:
        with open(os.path.join(HERE, name + ".expected.json"), "w") as f:
            json.dump(expected, f, indent=1, sort_keys=True)
            f.write("\n")


def build(pc, registry, generation, engines, legacy_too, seed, requests, multiprocess=False):
    page = Page(pc, registry, engines, generation, legacy_too, multiprocess)
    page.run(random.Random(seed), requests)
    if not multiprocess:
        http_families(pc, registry, random.Random(seed + 1))
    return page


def main():
    import prometheus_client as pc
    from prometheus_client import openmetrics

    # vLLM V1 (0.10-style): one engine, current names plus the deprecated TPOT histogram.
    reg = pc.CollectorRegistry()
    pc.ProcessCollector(registry=reg)
    pc.PlatformCollector(registry=reg)
    pc.GCCollector(registry=reg)
    p = build(pc, reg, "v1", ["0"], False, 1, 300)
    write("vllm_v1.prom", pc.generate_latest(reg).decode(), p.exp)
    write("vllm_v1_openmetrics.prom", openmetrics.exposition.generate_latest(reg).decode(), p.exp)

    # vLLM V1 0.9-style with data parallelism: two engines, current and deprecated names side by side.
    reg = pc.CollectorRegistry()
    pc.ProcessCollector(registry=reg)
    p = build(pc, reg, "v1", ["0", "1"], True, 2, 150)
    write("vllm_v1_dp2.prom", pc.generate_latest(reg).decode(), p.exp)

    # vLLM V0: model_name only, old names, no _created samples (V0 disables them).
    # This client predates disable_created_metrics(); the module flag is what it sets.
    import prometheus_client.metrics as pm
    pm._use_created = False
    reg = pc.CollectorRegistry()
    pc.ProcessCollector(registry=reg)
    pc.PlatformCollector(registry=reg)
    pc.GCCollector(registry=reg)
    p = build(pc, reg, "v0", [None], False, 3, 200)
    exp = dict(p.exp)
    write("vllm_v0.prom", pc.generate_latest(reg).decode(), exp)
    pm._use_created = True
    return p


def multiprocess():
    # A separate interpreter: prometheus_client reads PROMETHEUS_MULTIPROC_DIR at import time.
    d = tempfile.mkdtemp()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = d
    import prometheus_client as pc
    from prometheus_client import multiprocess as mp
    try:
        reg = pc.CollectorRegistry()
        p = build(pc, reg, "v1", ["0"], False, 4, 100, multiprocess=True)
        out = pc.CollectorRegistry()
        mp.MultiProcessCollector(out)
        write("vllm_v1_multiprocess.prom", pc.generate_latest(out).decode(), p.exp)
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--multiprocess":
        multiprocess()
    else:
        main()
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), "--multiprocess"])
