// SPDX-License-Identifier: MIT
// The routing-policy flags shared by `pswm run` and `pswm decide` (HR-tree chunking, lb's memory, seed mode).
#pragma once

#include "cli.hpp"

#include <planetserve/dispatch/policy_config.hpp>

#include <string>

namespace pswm {

/// --chunk-tokens, --lb-memory, --lb-recent, --lb-min-match and --lb-compat.
struct policy_flags {
  long long chunk_tokens = 16;       ///< --chunk-tokens (--lb-compat seed: 10 unless given)
  std::string memory = "lru-blocks"; ///< --lb-memory
  long long lb_recent = 10;          ///< --lb-recent
  double min_match = 0.5;            ///< --lb-min-match
  std::string compat = "pswm";       ///< --lb-compat

  void add_options(cli::po::options_description& opts);
  /// Checks the values (naming the flag) and sets `config`'s tree and lb settings. Flags the
  /// user left at their defaults do not override what `config` already holds when
  /// `keep_defaults` (a fixture's scenario, say).
  void apply(const cli::po::variables_map& vm, planetserve::dispatch::policy_config& config,
             bool keep_defaults = false) const;
};

}  // namespace pswm
