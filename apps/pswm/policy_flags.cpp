// SPDX-License-Identifier: MIT
// The routing-policy flags shared by `pswm run` and `pswm decide`.
#include "policy_flags.hpp"

#include <planetserve/hrtree/tree.hpp>

namespace pswm {

void policy_flags::add_options(cli::po::options_description& opts) {
  opts.add_options()
      ("chunk-tokens", cli::po::value(&chunk_tokens)->default_value(chunk_tokens),
       "tokens per HR-tree block (vLLM's KV block is 16; the seed used 10, the default with --lb-compat seed)")
      ("lb-memory", cli::po::value(&memory)->default_value(memory),
       "how the router models each server's cache: lru-blocks (default: up to the server's KV size, "
       "least recently used blocks forgotten first, as vLLM does) or recent-prompts (the seed's model: "
       "only the last --lb-recent prompts)")
      ("lb-recent", cli::po::value(&lb_recent)->default_value(lb_recent),
       "prompts each server remembers with --lb-memory recent-prompts (and with --lb-compat seed)")
      ("lb-min-match", cli::po::value(&min_match)->default_value(min_match, "0.5"),
       "lb counts a node as matching when it holds at least this fraction of the prompt's blocks; "
       "0 is the seed's rule (any shared block), which lets a common instruction preamble pin "
       "every request to the nodes that have served before")
      ("lb-compat", cli::po::value(&compat)->default_value(compat),
       "pswm | seed: seed makes lb the seed's algorithm exactly, decision for decision (10-token "
       "chunks, each node's last --lb-recent prompts after the \"I am a model node.\" baseline, any "
       "shared chunk matches, cut at the rank-based 80th percentile of the matching nodes' busy "
       "factors); --lb-memory and --lb-min-match do not apply to it");
}

void policy_flags::apply(const cli::po::variables_map& vm, planetserve::dispatch::policy_config& config,
                         bool keep_defaults) const {
  namespace d = planetserve::dispatch;
  auto given = [&](const char* flag) { return vm.count(flag) && !vm[flag].defaulted(); };
  if (compat == "seed") config.lb.compat = d::lb_compat::seed;
  else if (compat == "pswm") config.lb.compat = d::lb_compat::pswm;
  else throw cli::usage_error("--lb-compat must be pswm or seed, not '" + compat + "'");
  if (chunk_tokens < 1) throw cli::usage_error("--chunk-tokens must be at least 1");
  if (lb_recent < 1) throw cli::usage_error("--lb-recent must be at least 1");
  if (!(min_match >= 0 && min_match <= 1))
    throw cli::usage_error("--lb-min-match must be a fraction between 0 and 1");
  if (auto m = planetserve::hrtree::parse_memory_model(memory)) {
    if (given("lb-memory") || !keep_defaults) config.tree.memory = *m;
  } else {
    throw cli::usage_error("--lb-memory must be lru-blocks or recent-prompts, not '" + memory + "'");
  }
  if (given("chunk-tokens")) config.tree.chunk_tokens = static_cast<std::size_t>(chunk_tokens);
  else if (!keep_defaults) config.tree.chunk_tokens = config.lb.compat == d::lb_compat::seed ? 10 : static_cast<std::size_t>(chunk_tokens);
  if (given("lb-recent") || !keep_defaults) config.tree.recent_prompts = static_cast<std::size_t>(lb_recent);
  if (given("lb-min-match") || !keep_defaults) config.lb.min_match_ratio = min_match;
}

}  // namespace pswm
