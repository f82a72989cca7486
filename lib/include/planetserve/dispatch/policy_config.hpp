// SPDX-License-Identifier: MIT
// dispatch::policy_config: the settings of every built-in policy, with the seed's defaults.
#pragma once

#include <planetserve/error.hpp>

#include <planetserve/hrtree/tree.hpp>
#include <planetserve/tokenize/tokenizer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::dispatch {

/// Which algorithm `lb` runs.
enum class lb_compat : std::uint8_t {
  pswm,  ///< the seed's policy with pswm's measured changes (lb_policy)
  seed,  ///< the seed's function exactly, decision for decision (seed_lb_policy)
};

/// "pswm" or "seed".
std::string_view to_string(lb_compat c) noexcept;

/// The text the seed indexes on every node before its first prompt.
inline constexpr std::string_view seed_baseline_text = "I am a model node.";

/// `lb`, the seed's PlanetServe policy. Defaults are the seed's constants.
struct lb_config {
  lb_compat compat = lb_compat::pswm;                      ///< pswm's lb, or the seed's algorithm exactly
  double ema_weight = 0.125;                               ///< latency EMA: 0.875*old + 0.125*observed e2e
  std::chrono::duration<double> initial_latency{0.071};    ///< starting latency estimate per node (seed: ~71 ms)
  double initial_latency_jitter = 0.1;                     ///< start drawn uniformly in initial*(1 +- jitter), seeded (seed: random)
  std::size_t batch_size_tokens = 2048;                    ///< queued batches = ceil(queued tokens / this)
  std::size_t service_tokens_per_step = 2048;              ///< every node's queue drains this much per decision
  double eligible_percentile = 80;                         ///< matching nodes with BF at or below this percentile of all available nodes' BFs are eligible
  double min_match_ratio = 0.5;                            ///< a node matches when it holds at least this fraction of the prompt's blocks (0: any non-zero match, the seed's rule)
  std::vector<std::chrono::duration<double>> initial_latencies;  ///< per node starting latency, replacing the draw (e.g. a recorded run's); empty: drawn
  std::vector<tokenize::token_id> seed_baseline_tokens;    ///< compat seed: seed_baseline_text's tokens, indexed on every node until its first prompt (empty: none)
};

/// `cache-aware`, the SGLang router's rules. Defaults are sgl-router's original ones.
struct cache_aware_config {
  double cache_threshold = 0.5;           ///< route by cache if best match ratio exceeds this
  double balance_abs_threshold = 32;      ///< imbalanced if max-min in-flight exceeds this ...
  double balance_rel_threshold = 1.0001;  ///< ... and max exceeds this times min
};

/// `hrt`, our PlanetServe policy: longest prefix first, then live load.
struct hrt_config {
  double max_imbalance = 4;           ///< longest-prefix holder may carry this much more load than the least loaded node
  double tokens_per_load = 2048;      ///< beyond that, one unit of load costs as much as this many saved prompt tokens
  double kv_usage_weight = 1.0;       ///< load units added at 100% KV-cache usage (when /metrics shows it)
};

/// `session`, session affinity on a consistent-hash ring with a load fallback.
struct session_config {
  /// Ring points per node. 160 is ketama's choice (also uhashring's, which vLLM's production-stack
  /// session router uses): each node's share of the ring then varies by about 1/sqrt(160) = 8%,
  /// and a lookup is a binary search over 160 x nodes points.
  std::size_t virtual_nodes = 160;
  double balance_abs = 4;    ///< home overloaded if it has more than this many in flight above the least loaded ...
  double balance_rel = 1.5;  ///< ... and more than this times the least loaded node's count
};

/// Settings shared by all policies, plus each policy's own.
struct policy_config {
  std::size_t nodes = 1;             ///< fleet size (any count, >= 1)
  std::uint64_t seed = 0;            ///< seeds every random choice: same seed, same decisions
  hrtree::tree_config tree{};        ///< the prefix index (block size, hash seed, memory model, capacity)
  bool explain_matches = true;       ///< policies blind to prefixes still report each node's match (costs one match per decision)
  lb_config lb{};                    ///< `lb`
  cache_aware_config cache_aware{};  ///< `cache-aware`
  hrt_config hrt{};                  ///< `hrt`
  session_config session{};          ///< `session`
};

/// Whether `config` is usable: no error if so, else error::invalid_argument with what is wrong
/// (naming the field, e.g. "lb.min_match_ratio: must be in [0, 1]") in `diag`.
boost::system::error_code check(const policy_config& config, diagnostics& diag);

}  // namespace planetserve::dispatch
