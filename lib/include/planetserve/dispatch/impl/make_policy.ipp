// SPDX-License-Identifier: MIT
// Compiled body of dispatch::make_policy and the policy registry.
#pragma once

#include <planetserve/dispatch/cache_aware_policy.hpp>
#include <planetserve/dispatch/hrt_policy.hpp>
#include <planetserve/dispatch/lb_policy.hpp>
#include <planetserve/dispatch/least_loaded_policy.hpp>
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/dispatch/p2c_policy.hpp>
#include <planetserve/dispatch/precise_policy.hpp>
#include <planetserve/dispatch/random_policy.hpp>
#include <planetserve/dispatch/rr_policy.hpp>
#include <planetserve/dispatch/seed_lb_policy.hpp>
#include <planetserve/dispatch/session_policy.hpp>

#include <array>
#include <stdexcept>

namespace planetserve::dispatch {
namespace {

constexpr std::array<policy_info, 9> registry{{
    {"rr", "round-robin over available nodes (the seed's baseline)"},
    {"lb",
     "the seed's PlanetServe policy: best prefix match (at least --lb-min-match of the prompt) "
     "among nodes whose busy factor (latency EMA x queued batches) is within the 80th "
     "percentile, else lowest busy factor; "
     "default memory lru-blocks (each node keeps its KV capacity in blocks, evicting LRU, as "
     "vLLM does), recent-prompts reproduces the seed's 10 most recent prompts per node; "
     "--lb-compat seed runs the seed's algorithm exactly instead (10-token chunks, its last 10 "
     "prompts per node, any shared chunk matches, cut at the 80th percentile of the matching "
     "nodes' busy factors)"},
    {"least-loaded", "fewest requests in flight, random among equals"},
    {"random", "uniformly random available node"},
    {"p2c", "power of two choices: the less loaded of two random nodes"},
    {"cache-aware",
     "SGLang router rules: least loaded if loads are imbalanced, else best prefix match if "
     "its ratio exceeds the cache threshold, else the node caching the fewest blocks"},
    {"hrt",
     "HR-tree policy: least loaded node among those holding the longest prefix, scored in "
     "tokens saved; load from /metrics plus own dispatches since; random ties"},
    {"session",
     "session affinity: a session's requests go to its node on a consistent-hash ring (160 points "
     "per node); an unavailable or overloaded home (over 4 in flight above the least loaded and "
     "1.5x its count) passes to the next node on the ring; no session: fewest in flight"},
    {"precise",
     "lb's rule on what each node really holds: an exact index of its blocks built from its KV-cache "
     "events (vLLM's --kv-events-config; pswm run --sim turns them on), plus its unfinished "
     "prompts; a node whose events are missing or incomplete is judged by lb's model "
     "(rule precise-fallback)"},
}};

}  // namespace

std::span<const policy_info> known_policies() noexcept { return registry; }

std::string known_policy_names() {
  std::string out;
  for (const auto& p : registry) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

std::unique_ptr<policy> make_policy(std::string_view name, const policy_config& config) {
  if (diagnostics diag; check(config, diag)) throw std::invalid_argument("dispatch::make_policy: " + diag.message);
  if (name == "rr") return std::make_unique<rr_policy>(config);
  if (name == "lb") {
    if (config.lb.compat == lb_compat::seed) return std::make_unique<seed_lb_policy>(config);
    return std::make_unique<lb_policy>(config);
  }
  if (name == "least-loaded") return std::make_unique<least_loaded_policy>(config);
  if (name == "random") return std::make_unique<random_policy>(config);
  if (name == "p2c") return std::make_unique<p2c_policy>(config);
  if (name == "cache-aware") return std::make_unique<cache_aware_policy>(config);
  if (name == "hrt") return std::make_unique<hrt_policy>(config);
  if (name == "session") return std::make_unique<session_policy>(config);
  if (name == "precise") return std::make_unique<precise_policy>(config);
  return nullptr;
}

}  // namespace planetserve::dispatch
