// SPDX-License-Identifier: MIT
// Tests for the emulated vLLM engine: prefix-cache accounting, chunked prefill, preemption,
// TTFT behaviour, admission errors, determinism.
#include <planetserve/sim/engine.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

using namespace planetserve::sim;
using planetserve::diagnostics;
using planetserve::tokenize::token_id;

namespace {

engine_config small_config() {
  auto c = engine_config::from_profile(default_profile());
  c.max_model_len = 8192;
  c.num_gpu_blocks = 1000;
  return c;
}

std::vector<token_id> tokens(std::size_t n, token_id base) {
  std::vector<token_id> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = base + static_cast<token_id>(i);
  return v;
}

std::vector<token_id> concat(std::vector<token_id> a, const std::vector<token_id>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

sampling_params exactly(std::size_t n) {
  sampling_params p;
  p.max_tokens = n;
  p.ignore_eos = true;
  return p;
}

struct finished_request {
  std::vector<token_id> tokens;
  finish_reason reason{};
  request_usage usage;
  time_point first_token{-1};
  time_point end{};
};

struct run_log {
  std::map<std::string, finished_request> done;
  std::vector<step_result> steps;
};

// Runs the engine until it has no work, recording every step.
void run(engine& e, run_log& log, std::size_t max_steps = 100000) {
  for (std::size_t i = 0; i < max_steps; ++i) {
    const auto t = e.next_step_time();
    if (!t) return;
    auto res = e.step(*t);
    for (const auto& o : res.outputs) {
      auto& f = log.done[o.id];
      f.tokens.insert(f.tokens.end(), o.tokens.begin(), o.tokens.end());
      if (o.first_token) f.first_token = res.end;
      f.usage = o.usage;
      if (o.finished) {
        f.reason = *o.finished;
        f.end = res.end;
      }
    }
    log.steps.push_back(std::move(res));
  }
  FAIL("engine did not finish in " << max_steps << " steps");
}

void add(engine& e, const std::string& id, std::vector<token_id> prompt, sampling_params p, time_point now = {}) {
  diagnostics d;
  const auto ec = e.add_request(id, std::move(prompt), p, now, d);
  INFO(d.message);
  REQUIRE_FALSE(ec);
}

double seconds(time_point t) { return std::chrono::duration<double>(t).count(); }

}  // namespace

TEST_CASE("sim engine: hit ratio on a shared-prefix trace equals the hand-computed value", "[sim][engine]") {
  // Four prompts: the same 64-token prefix (4 blocks) + 40 own tokens = 104 tokens each.
  // The first misses everything; each later one hits the 4 shared blocks (64 tokens); the
  // fifth block mixes prefix and own tokens, so it never hits. Queries count every prompt
  // token: hits / queries = 3*64 / (4*104) = 192 / 416.
  const auto prefix = tokens(64, 1);
  for (bool concurrent : {false, true}) {
    INFO("concurrent " << concurrent);
    engine e(small_config());
    run_log log;
    for (int r = 0; r < 4; ++r) {
      add(e, "r" + std::to_string(r), concat(prefix, tokens(40, 1000 + 100 * static_cast<token_id>(r))), exactly(1));
      if (!concurrent) run(e, log);
    }
    run(e, log);
    CHECK(e.stats().prefix_cache_queries == 416);
    CHECK(e.stats().prefix_cache_hits == 192);
    CHECK(log.done.at("r0").usage.cached_tokens == 0);
    for (const char* id : {"r1", "r2", "r3"}) CHECK(log.done.at(id).usage.cached_tokens == 64);
  }
}

TEST_CASE("sim engine: a fully cached prompt still recomputes its last token", "[sim][engine]") {
  // vLLM caps a hit at prompt_len - 1 tokens: a repeated 64-token prompt hits 3 blocks (48),
  // a repeated 65-token prompt hits all 4 (64).
  engine e(small_config());
  run_log log;
  add(e, "a", tokens(64, 1), exactly(1));
  run(e, log);
  add(e, "b", tokens(64, 1), exactly(1));
  run(e, log);
  CHECK(log.done.at("b").usage.cached_tokens == 48);
  add(e, "c", tokens(65, 1), exactly(1));
  run(e, log);
  CHECK(log.done.at("c").usage.cached_tokens == 64);
  CHECK(e.stats().prefix_cache_queries == 64 + 64 + 65);
  CHECK(e.stats().prefix_cache_hits == 48 + 64);
}

TEST_CASE("sim engine: free cached blocks are evicted least recently used, tail first", "[sim][engine]") {
  auto c = small_config();
  c.num_gpu_blocks = 8;  // 7 usable blocks of 16 tokens
  c.max_model_len = 112;
  c.num_gpu_blocks_overridden = true;
  engine e(c);
  run_log log;
  const auto a = tokens(48, 1);    // 3 blocks
  const auto b = tokens(32, 500);  // 2 blocks
  add(e, "a", a, exactly(1));
  run(e, log);
  add(e, "b", b, exactly(1));
  run(e, log);
  // Free queue now: the 2 never-used blocks, then a's blocks tail first, then b's.
  REQUIRE(e.cache().free_queue().size() == 7);
  // A 48-token request takes 3 blocks: the 2 never-used ones and a's last block.
  add(e, "c", tokens(48, 900), exactly(1));
  run(e, log);
  // a's first two blocks survive, its third is gone; b is untouched.
  std::vector<block_hash> ha, hb;
  extend_block_hashes(a, 16, ha);
  extend_block_hashes(b, 16, hb);
  CHECK(e.cache().is_cached(ha[0]));
  CHECK(e.cache().is_cached(ha[1]));
  CHECK_FALSE(e.cache().is_cached(ha[2]));
  CHECK(e.cache().is_cached(hb[0]));
  CHECK(e.cache().is_cached(hb[1]));
  // A request with a's first 32 tokens + 1 revives a's two surviving blocks; its one new
  // block comes from the front of the free queue, now b's tail block (b is the least
  // recently used prefix, and a prefix's tail goes before its head).
  add(e, "a2", concat(tokens(32, 1), tokens(1, 7777)), exactly(1));
  run(e, log);
  CHECK(log.done.at("a2").usage.cached_tokens == 32);
  CHECK(e.cache().is_cached(ha[0]));
  CHECK(e.cache().is_cached(hb[0]));
  CHECK_FALSE(e.cache().is_cached(hb[1]));
}

TEST_CASE("sim engine: the chunked-prefill budget holds every step", "[sim][engine]") {
  auto c = small_config();
  c.max_num_batched_tokens = 512;
  c.max_num_seqs = 8;
  engine e(c);
  std::size_t total_prompt = 0;
  for (int r = 0; r < 40; ++r) {
    const std::size_t len = 50 + static_cast<std::size_t>(r * 97 % 1400);
    total_prompt += len;
    add(e, "r" + std::to_string(r), tokens(len, 10000 * static_cast<token_id>(r)), exactly(3 + r % 5),
        std::chrono::milliseconds(r * 5));
  }
  run_log log;
  run(e, log);
  bool chunked = false;
  for (const auto& s : log.steps) {
    CHECK(s.scheduled_tokens <= 512);
    CHECK(s.scheduled_seqs <= 8);
    CHECK(s.scheduled_tokens == s.prefill_tokens + s.decode_seqs);
    if (s.scheduled_tokens == 512 && s.prefill_tokens > 0) chunked = true;
  }
  CHECK(chunked);
  CHECK(log.done.size() == 40);
  CHECK(e.stats().prompt_tokens == total_prompt);
  CHECK(e.num_running() == 0);
  CHECK(e.cache().num_free_blocks() == e.cache().num_blocks() - 1);
}

TEST_CASE("sim engine: a long prompt is prefilled in chunks before its first token", "[sim][engine]") {
  auto c = small_config();
  c.max_num_batched_tokens = 512;
  engine e(c);
  add(e, "long", tokens(1500, 1), exactly(2));
  run_log log;
  run(e, log);
  REQUIRE(log.steps.size() == 4);  // 512 + 512 + 476 (first token), then one decode
  CHECK(log.steps[0].outputs.empty());
  CHECK(log.steps[1].outputs.empty());
  CHECK(log.steps[2].outputs.at(0).first_token);
  CHECK(log.steps[2].prefill_tokens == 476);
  CHECK(log.steps[3].decode_seqs == 1);
}

TEST_CASE("sim engine: TTFT grows with uncached tokens and shrinks with a cache hit", "[sim][engine]") {
  auto ttft_of = [](std::size_t len) {
    engine e(small_config());
    add(e, "x", tokens(len, 1), exactly(1));
    run_log log;
    run(e, log);
    return seconds(log.done.at("x").first_token);
  };
  const double t256 = ttft_of(256), t1024 = ttft_of(1024), t4096 = ttft_of(4096);
  CHECK(t256 < t1024);
  CHECK(t1024 < t4096);
  // A100 profile: a 1024-token prompt alone takes ~0.1 s (see impl/profile.ipp).
  CHECK(t1024 == Approx(0.100).epsilon(0.1));

  engine e(small_config());
  run_log log;
  add(e, "first", tokens(2048, 1), exactly(1));
  run(e, log);
  const time_point t0 = e.next_step_time().value_or(log.steps.back().end);
  add(e, "again", concat(tokens(2048, 1), tokens(16, 9000)), exactly(1), t0);
  run(e, log);
  const double cold = seconds(log.done.at("first").first_token);
  const double warm = seconds(log.done.at("again").first_token) - seconds(t0);
  CHECK(log.done.at("again").usage.cached_tokens == 2048);
  CHECK(warm < cold / 5);
}

TEST_CASE("sim engine: TTFT grows with the queue ahead", "[sim][engine]") {
  auto last_ttft = [](int queued) {
    engine e(small_config());
    for (int r = 0; r <= queued; ++r)
      add(e, "r" + std::to_string(r), tokens(1000, 5000 * static_cast<token_id>(r + 1)), exactly(16));
    run_log log;
    run(e, log);
    return seconds(log.done.at("r" + std::to_string(queued)).first_token);
  };
  const double t0 = last_ttft(0), t4 = last_ttft(4), t16 = last_ttft(16);
  CHECK(t0 < t4);
  CHECK(t4 < t16);
}

TEST_CASE("sim engine: preemption under KV pressure recomputes and still finishes", "[sim][engine]") {
  auto c = small_config();
  c.num_gpu_blocks = 20;  // 19 usable blocks = 304 tokens
  c.max_model_len = 300;
  c.num_gpu_blocks_overridden = true;
  engine e(c);
  // Each request peaks at 64 + 99 = 163 tokens = 11 blocks; four of them cannot coexist.
  for (int r = 0; r < 4; ++r) add(e, "r" + std::to_string(r), tokens(64, 100 * static_cast<token_id>(r + 1)), exactly(100));
  run_log log;
  run(e, log);
  CHECK(e.stats().preemptions > 0);
  bool preempted_step = false;
  for (const auto& s : log.steps) preempted_step = preempted_step || s.preempted > 0;
  CHECK(preempted_step);
  REQUIRE(log.done.size() == 4);
  for (const auto& [id, f] : log.done) {
    CHECK(f.tokens.size() == 100);
    CHECK(f.reason == finish_reason::length);
    CHECK(f.usage.completion_tokens == 100);
  }
  // Output text does not depend on the batching: a lone run gives the same tokens.
  engine lone(c);
  add(lone, "r2", tokens(64, 300), exactly(100));
  run_log lone_log;
  run(lone, lone_log);
  CHECK(lone_log.done.at("r2").tokens == log.done.at("r2").tokens);
  CHECK(e.stats().request_success[static_cast<std::size_t>(finish_reason::length)] == 4);
  // Re-admissions after preemption are not prefix-cache queries (vLLM counts them apart).
  CHECK(e.stats().prefix_cache_queries == 4 * 64);
}

TEST_CASE("sim engine: requests too long for the model or the cache are rejected as vLLM does", "[sim][engine]") {
  diagnostics d;
  SECTION("startup: a cache that cannot hold max_model_len is refused") {
    auto c = small_config();
    c.num_gpu_blocks = 100;  // 99 * 16 = 1584 < 8192
    CHECK(engine::validate(c, d) == planetserve::error::invalid_argument);
    CHECK(d.message.find("max seq len (8192)") != std::string::npos);
    CHECK_THROWS_AS(engine(c), std::invalid_argument);
    c.num_gpu_blocks_overridden = true;
    CHECK_FALSE(engine::validate(c, d));
  }
  SECTION("max_model_len") {
    auto c = small_config();
    c.max_model_len = 1024;
    engine e(c);
    CHECK(e.add_request("a", tokens(1000, 1), exactly(100), {}, d) == planetserve::error::bad_request);
    CHECK(d.message ==
          "This model's maximum context length is 1024 tokens. However, you requested 1100 tokens (1000 in the "
          "messages, 100 in the completion). Please reduce the length of the messages or completion.");
    CHECK(e.add_request("b", tokens(1024, 1), {}, {}, d) == planetserve::error::bad_request);
    CHECK(e.add_request("c", {}, {}, {}, d) == planetserve::error::bad_request);
    sampling_params bad_min;
    bad_min.max_tokens = 5;
    bad_min.min_tokens = 6;
    CHECK(e.add_request("d", tokens(10, 1), bad_min, {}, d) == planetserve::error::bad_request);
    CHECK_FALSE(e.add_request("ok", tokens(1000, 1), exactly(24), {}, d));
    CHECK(e.add_request("ok", tokens(10, 1), exactly(1), {}, d) == planetserve::error::invalid_argument);
  }
  SECTION("a request that can never fit in an overridden cache") {
    auto c = small_config();
    c.num_gpu_blocks = 10;  // 9 usable blocks = 144 tokens
    c.max_model_len = 1024;
    c.num_gpu_blocks_overridden = true;
    engine e(c);
    CHECK(e.add_request("big", tokens(200, 1), exactly(1), {}, d) == planetserve::error::bad_request);
    CHECK(d.message.find("could never be scheduled") != std::string::npos);
    // 100 + 60 - 1 = 159 tokens = 10 blocks > 9.
    CHECK(e.add_request("grows", tokens(100, 1), exactly(60), {}, d) == planetserve::error::bad_request);
    // 100 + 45 - 1 = 144 tokens = 9 blocks: fits exactly, and runs to the end.
    CHECK_FALSE(e.add_request("fits", tokens(100, 1), exactly(45), {}, d));
    run_log log;
    run(e, log);
    CHECK(log.done.at("fits").tokens.size() == 45);
    CHECK(e.num_waiting() == 0);
  }
}

TEST_CASE("sim engine: output length from max_tokens, min_tokens, ignore_eos or the distribution", "[sim][engine]") {
  auto c = small_config();
  c.output_length.distribution = output_length_config::shape::fixed;
  c.output_length.mean = 37;
  engine e(c);
  add(e, "natural", tokens(20, 1), {});
  sampling_params capped;
  capped.max_tokens = 10;
  add(e, "capped", tokens(20, 1), capped);
  sampling_params min_more;
  min_more.max_tokens = 100;
  min_more.min_tokens = 50;
  add(e, "min", tokens(20, 1), min_more);
  add(e, "ignore", tokens(20, 1), exactly(80));
  run_log log;
  run(e, log);
  CHECK(log.done.at("natural").tokens.size() == 37);
  CHECK(log.done.at("natural").reason == finish_reason::stop);
  CHECK(log.done.at("capped").tokens.size() == 10);
  CHECK(log.done.at("capped").reason == finish_reason::length);
  CHECK(log.done.at("min").tokens.size() == 50);
  CHECK(log.done.at("min").reason == finish_reason::stop);
  CHECK(log.done.at("ignore").tokens.size() == 80);
  CHECK(log.done.at("ignore").reason == finish_reason::length);

  // The default lognormal: lengths vary between requests and stay within bounds.
  engine d(small_config());
  for (int r = 0; r < 50; ++r) add(d, "r" + std::to_string(r), tokens(8, 1), {});
  run_log dlog;
  run(d, dlog);
  std::size_t lo = 1u << 30, hi = 0;
  for (const auto& [id, f] : dlog.done) {
    lo = std::min(lo, f.tokens.size());
    hi = std::max(hi, f.tokens.size());
  }
  CHECK(lo >= 1);
  CHECK(hi <= 4096);
  CHECK(hi > 2 * lo);
}

TEST_CASE("sim engine: deterministic for a seed", "[sim][engine]") {
  auto trace = [](std::uint64_t seed) {
    auto c = small_config();
    c.seed = seed;
    engine e(c);
    for (int r = 0; r < 20; ++r) {
      sampling_params p;
      p.max_tokens = 200;
      add(e, "r" + std::to_string(r), tokens(100 + static_cast<std::size_t>(r) * 37, 1), p,
          std::chrono::milliseconds(r * 20));
    }
    run_log log;
    run(e, log);
    std::vector<std::pair<std::int64_t, std::vector<token_id>>> out;
    for (const auto& [id, f] : log.done) out.push_back({f.end.count(), f.tokens});
    return out;
  };
  const auto a = trace(7), b = trace(7), c = trace(8);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("sim engine: abort frees blocks; reset_prefix_cache only when idle", "[sim][engine]") {
  engine e(small_config());
  const double idle_usage = e.kv_cache_usage();
  CHECK(idle_usage == 0.0);
  add(e, "a", tokens(300, 1), exactly(50));
  e.step(time_point{0});
  CHECK(e.kv_cache_usage() > idle_usage);
  CHECK_FALSE(e.reset_prefix_cache());
  CHECK(e.abort("a"));
  CHECK_FALSE(e.abort("a"));
  CHECK(e.kv_cache_usage() == idle_usage);
  CHECK_FALSE(e.next_step_time().has_value());
  // The aborted request's full blocks stay cached until the reset.
  run_log log;
  add(e, "b", tokens(300, 1), exactly(1), std::chrono::seconds(1));
  run(e, log);
  CHECK(log.done.at("b").usage.cached_tokens == 288);
  CHECK(e.reset_prefix_cache());
  add(e, "c", tokens(300, 1), exactly(1), std::chrono::seconds(2));
  run(e, log);
  CHECK(log.done.at("c").usage.cached_tokens == 0);
}

TEST_CASE("sim engine: the instant profile takes no time; counters add up", "[sim][engine]") {
  auto c = engine_config::from_profile(*find_profile("instant"));
  engine e(c);
  for (int r = 0; r < 5; ++r) add(e, "r" + std::to_string(r), tokens(100, 1), exactly(10), std::chrono::seconds(3));
  run_log log;
  run(e, log);
  for (const auto& s : log.steps) CHECK(s.end == std::chrono::seconds(3));
  const auto& st = e.stats();
  CHECK(st.generation_tokens == 50);
  CHECK(st.prompt_tokens == 500);
  CHECK(st.time_to_first_token.count == 5);
  CHECK(st.time_to_first_token.sum == 0.0);
  CHECK(st.inter_token_latency.count == 45);
  CHECK(st.e2e_request_latency.count == 5);
  CHECK(st.request_generation_tokens.sum == 50.0);
  CHECK(st.request_success[static_cast<std::size_t>(finish_reason::length)] == 5);
}

TEST_CASE("sim engine: profile calibration points (batch-1 decode, prefill)", "[sim][engine][profile]") {
  // One request, 1024-token prompt, 64 tokens: ITL ~ fixed + KV read of ~1k tokens.
  auto itl_of = [](const char* name) {
    auto c = engine_config::from_profile(*find_profile(name));
    engine e(c);
    add(e, "x", tokens(1024, 1), exactly(64));
    run_log log;
    run(e, log);
    const auto& h = e.stats().inter_token_latency;
    REQUIRE(h.count == 63);
    return h.sum / static_cast<double>(h.count);
  };
  const double a100 = itl_of("a100"), h100 = itl_of("h100"), a6000 = itl_of("a6000");
  // A100-80GB: 16.06 GB / (2039 GB/s x 0.775) + KV read ~ 10.3 ms (impl/profile.ipp).
  CHECK(a100 == Approx(0.0103).epsilon(0.05));
  CHECK(h100 < a100);
  CHECK(a100 < a6000);
  CHECK(a6000 == Approx(0.0273).epsilon(0.05));
}

TEST_CASE("sim engine: before vLLM 0.26 a request waiting for KV blocks is counted at every lookup",
          "[sim][engine][vllm_version]") {
  // 19 usable blocks. A (160 tokens, 100 outputs) peaks at 17 blocks; B shares A's first 8
  // blocks and needs 10 more, which stay unavailable until A finishes: B waits ~100 steps.
  auto c = small_config();
  c.num_gpu_blocks = 20;
  c.max_model_len = 300;
  c.num_gpu_blocks_overridden = true;
  const auto a = tokens(160, 1000);
  const auto b = concat(std::vector<token_id>(a.begin(), a.begin() + 128), tokens(160, 5000));
  struct outcome {
    std::uint64_t queries, hits;
    std::size_t b_lookups;
  };
  auto run_with = [&](prefix_cache_counting counting) {
    auto cc = c;
    cc.counting = counting;
    engine e(cc);
    add(e, "a", a, exactly(100));
    add(e, "b", b, exactly(5));
    run_log log;
    run(e, log);
    REQUIRE(log.done.size() == 2);
    // B is looked up in every step up to and including the one that admits it.
    std::size_t b_first = 0;
    while (b_first < log.steps.size()) {
      const auto& outs = log.steps[b_first].outputs;
      if (std::any_of(outs.begin(), outs.end(), [](const request_output& o) { return o.id == "b" && o.first_token; }))
        break;
      ++b_first;
    }
    REQUIRE(b_first < log.steps.size());
    CHECK(log.done.at("b").usage.cached_tokens == 128);
    return outcome{e.stats().prefix_cache_queries, e.stats().prefix_cache_hits, b_first + 1};
  };
  const auto fixed = run_with(prefix_cache_counting::at_admission);
  const auto old = run_with(prefix_cache_counting::per_lookup);
  // Once per request: A's 160 (no hit) and B's 288 (128 hit).
  CHECK(fixed.queries == 160 + 288);
  CHECK(fixed.hits == 128);
  // Per lookup: B counted once per step it waited, plus the admitting lookup.
  CHECK(old.b_lookups == fixed.b_lookups);
  CHECK(old.b_lookups > 90);
  CHECK(old.queries == 160 + 288 * old.b_lookups);
  CHECK(old.hits == 128 * old.b_lookups);
  // The reported ratio drifts to the waiting request's own ratio (128/288).
  const double fixed_ratio = static_cast<double>(fixed.hits) / static_cast<double>(fixed.queries);
  const double old_ratio = static_cast<double>(old.hits) / static_cast<double>(old.queries);
  CHECK(fixed_ratio == Approx(128.0 / 448.0));
  CHECK(old_ratio > 0.43);
}

TEST_CASE("sim engine: without KV pressure both counter semantics agree", "[sim][engine][vllm_version]") {
  auto run_with = [](prefix_cache_counting counting) {
    auto cc = small_config();
    cc.counting = counting;
    engine e(cc);
    const auto shared = tokens(64, 1);
    for (int r = 0; r < 4; ++r)
      add(e, "r" + std::to_string(r), concat(shared, tokens(40, 1000 + 100 * static_cast<token_id>(r))), exactly(3));
    run_log log;
    run(e, log);
    return std::pair{e.stats().prefix_cache_queries, e.stats().prefix_cache_hits};
  };
  CHECK(run_with(prefix_cache_counting::per_lookup) == run_with(prefix_cache_counting::at_admission));
  CHECK(run_with(prefix_cache_counting::at_admission).first == 4 * 104);
}
