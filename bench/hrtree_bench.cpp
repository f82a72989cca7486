// SPDX-License-Identifier: MIT
// hrtree_bench: cost of one routing decision (match + insert + load update) against hashing alone.
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/hrtree/tree.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace {

using planetserve::tokenize::token_id;
namespace dispatch = planetserve::dispatch;
namespace hrtree = planetserve::hrtree;

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// The route_seed_scenario workload: `prefixes` shared prefixes of `prefix_tokens` picked
/// with Zipf s = 1.1; each prompt = a prefix + a unique suffix, `prompt_tokens` in all.
///
/// Prompts are pre-generated per prefix; what makes each suffix unique is its first token,
/// set from a counter before each decision. Block keys are chained, so that one token makes
/// every suffix block key new, exactly as fully random suffix tokens would, without a
/// gigabyte of pre-generated prompts.
struct scenario {
  static constexpr std::size_t prefixes = 100;
  std::size_t prefix_tokens;
  std::vector<std::vector<token_id>> prompts;  // one buffer per prefix
  std::vector<std::uint32_t> picks;            // Zipf-distributed prefix sequence
  std::uint64_t counter = 0;

  scenario(std::size_t prefix_len, std::size_t prompt_len, std::uint64_t seed = 42)
      : prefix_tokens(prefix_len) {
    std::uint64_t s = seed;
    std::vector<token_id> suffix(prompt_len - prefix_len);
    for (auto& t : suffix) t = static_cast<token_id>(splitmix(s) % 128'256);
    for (std::size_t p = 0; p < prefixes; ++p) {
      std::vector<token_id> v(prompt_len);
      for (std::size_t i = 0; i < prefix_len; ++i) v[i] = static_cast<token_id>(splitmix(s) % 128'256);
      std::copy(suffix.begin(), suffix.end(), v.begin() + static_cast<std::ptrdiff_t>(prefix_len));
      prompts.push_back(std::move(v));
    }
    std::vector<double> cdf(prefixes);
    double sum = 0;
    for (std::size_t k = 0; k < prefixes; ++k) cdf[k] = (sum += 1.0 / std::pow(double(k + 1), 1.1));
    picks.resize(1 << 16);
    for (auto& pk : picks) {
      const double u = static_cast<double>(splitmix(s) >> 11) * 0x1.0p-53 * sum;
      pk = static_cast<std::uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
    }
  }

  /// The next prompt (its buffer is reused: valid until the next call for the same prefix).
  std::span<const token_id> next() {
    const std::uint32_t p = picks[counter & (picks.size() - 1)];
    auto& v = prompts[p];
    // 128'256 + counter: outside the vocabulary, so never equal to a random token.
    v[prefix_tokens] = static_cast<token_id>(128'256 + (counter & 0x7FFF'FFFF));
    ++counter;
    return v;
  }
};

struct route_params {
  std::size_t servers = 8;
  std::size_t prompt_tokens = 2048;
  std::size_t capacity = 16'384;  // per server, blocks
  std::size_t warm_prompts = 2000;
  const char* policy = "lb";
  planetserve::hrtree::memory_model memory = planetserve::hrtree::memory_model::lru_blocks;
};

/// Median time to hash one prompt of `prompt_tokens` tokens of the scenario, measured once
/// per process (per length), so each routing benchmark can state its cost next to this floor.
double hash_floor_ns(std::size_t prompt_tokens) {
  static std::vector<std::pair<std::size_t, double>> known;
  for (const auto& [len, ns] : known)
    if (len == prompt_tokens) return ns;
  scenario sc(1024, prompt_tokens);
  hrtree::block_hasher hasher(16, 0);
  std::vector<hrtree::block_key> keys;
  std::vector<std::int64_t> samples(20'000);
  for (auto& x : samples) {
    const auto t0 = std::chrono::steady_clock::now();
    hasher.keys(sc.next(), keys);
    benchmark::DoNotOptimize(keys.data());
    const auto t1 = std::chrono::steady_clock::now();
    x = (t1 - t0).count();
  }
  std::sort(samples.begin(), samples.end());
  const double ns = static_cast<double>(samples[samples.size() / 2]);
  known.emplace_back(prompt_tokens, ns);
  return ns;
}

void run_route(benchmark::State& state, route_params p) {
  scenario sc(1024, p.prompt_tokens);
  dispatch::policy_config cfg;
  cfg.nodes = p.servers;
  cfg.tree.capacity_blocks = p.capacity;
  cfg.tree.memory = p.memory;
  auto pol = dispatch::make_policy(p.policy, cfg);
  auto step = [&] {
    const dispatch::request_view req{sc.next()};
    const auto d = pol->choose(req);
    pol->on_dispatched(d.node, req);
    return d;
  };
  for (std::size_t i = 0; i < p.warm_prompts; ++i) step();

  // Per-decision times for the median; the clock reads add about 2 x 20 ns to each sample.
  std::vector<std::int64_t> samples;
  samples.reserve(1 << 20);
  std::uint64_t hits = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto d = step();
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(d.node);
    hits += d.chosen_match();
    if (samples.size() < samples.capacity()) samples.push_back((t1 - t0).count());
  }
  std::sort(samples.begin(), samples.end());
  const auto* t = pol->prefixes();
  if (!samples.empty()) {
    const double floor = hash_floor_ns(p.prompt_tokens);
    state.counters["p50_ns"] = static_cast<double>(samples[samples.size() / 2]);
    state.counters["p99_ns"] = static_cast<double>(samples[samples.size() * 99 / 100]);
    // The floor is timed the same way (clock reads included), so the ratio compares like with like.
    state.counters["hash_p50_ns"] = floor;
    state.counters["x_hash"] = static_cast<double>(samples[samples.size() / 2]) / std::max(1.0, floor);
  }
  state.counters["cached_blocks"] = static_cast<double>(t->cached_blocks());
  state.counters["distinct_blocks"] = static_cast<double>(t->distinct_blocks());
  state.counters["B_per_cached_block"] =
      static_cast<double>(t->memory_bytes()) / static_cast<double>(std::max<std::size_t>(1, t->cached_blocks()));
  state.counters["B_per_distinct_block"] =
      static_cast<double>(t->memory_bytes()) / static_cast<double>(std::max<std::size_t>(1, t->distinct_blocks()));
  state.counters["hit_blocks_per_req"] =
      static_cast<double>(hits) / static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
}

void run_hash(benchmark::State& state, std::size_t prompt_tokens) {
  scenario sc(1024, prompt_tokens);
  hrtree::block_hasher hasher(16, 0);
  std::vector<hrtree::block_key> keys;
  for (auto _ : state) {
    hasher.keys(sc.next(), keys);
    benchmark::DoNotOptimize(keys.data());
    benchmark::ClobberMemory();
  }
}

void route_seed_scenario(benchmark::State& state) {
  route_params p;
  p.servers = static_cast<std::size_t>(state.range(0));
  run_route(state, p);
}

void hash_floor(benchmark::State& state) { run_hash(state, static_cast<std::size_t>(state.range(0))); }

void route_long_prompts(benchmark::State& state) {
  route_params p;
  p.prompt_tokens = 10'000;
  p.capacity = 65'536;
  run_route(state, p);
}

void route_1m_blocks(benchmark::State& state) {
  route_params p;
  p.capacity = 1'000'000 / 8;
  // Each prompt adds 64 new blocks: enough prompts to fill every server.
  p.warm_prompts = 20'000;
  run_route(state, p);
}

void route_policy(benchmark::State& state, const char* name) {
  route_params p;
  p.policy = name;
  p.servers = static_cast<std::size_t>(state.range(0));
  run_route(state, p);
}

void route_seed_memory(benchmark::State& state) {
  // lb exactly as the seed ran it: each server remembers its 10 most recent prompts.
  route_params p;
  p.memory = planetserve::hrtree::memory_model::recent_prompts;
  run_route(state, p);
}

}  // namespace

BENCHMARK(route_seed_scenario)->Arg(8)->Arg(64)->Arg(1024)->Arg(10'000)->Unit(benchmark::kNanosecond);
BENCHMARK(hash_floor)->Arg(2048)->Arg(10'000)->Unit(benchmark::kNanosecond);
BENCHMARK(route_long_prompts)->Unit(benchmark::kNanosecond);
BENCHMARK(route_1m_blocks)->Unit(benchmark::kNanosecond);
BENCHMARK(route_seed_memory)->Unit(benchmark::kNanosecond);
// The other policies at the same fleet sizes: per-node loops show as growth with the fleet.
BENCHMARK_CAPTURE(route_policy, hrt, "hrt")->Arg(8)->Arg(1024)->Arg(10'000)->Unit(benchmark::kNanosecond);
BENCHMARK_CAPTURE(route_policy, cache_aware, "cache-aware")->Arg(8)->Arg(1024)->Arg(10'000)->Unit(benchmark::kNanosecond);
BENCHMARK_CAPTURE(route_policy, session, "session")->Arg(8)->Arg(1024)->Arg(10'000)->Unit(benchmark::kNanosecond);
BENCHMARK_CAPTURE(route_policy, rr, "rr")->Arg(8)->Arg(1024)->Arg(10'000)->Unit(benchmark::kNanosecond);

BENCHMARK_MAIN();
