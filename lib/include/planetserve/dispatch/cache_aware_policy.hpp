// SPDX-License-Identifier: MIT
// dispatch::cache_aware_policy: the SGLang router's cache-aware rules.
#pragma once

#include <planetserve/dispatch/policy.hpp>

namespace planetserve::dispatch {

/// `cache-aware`, the SGLang router's rules: if loads (in flight) are imbalanced, i.e.
/// max - min > balance_abs_threshold and max > balance_rel_threshold * min, the least
/// loaded node; else the node with the best prefix match if its match ratio (matched /
/// prompt blocks) exceeds cache_threshold; else the node caching the fewest blocks.
class cache_aware_policy final : public policy {
 public:
  /// A policy for `config`; throws std::invalid_argument (naming the field) if check(config, diag) fails.
  explicit cache_aware_policy(const policy_config& config);
  std::string_view name() const noexcept override { return "cache-aware"; }

 protected:
  decision do_choose(const request_view& req, const fleet_view& fleet) override;

 private:

};

}  // namespace planetserve::dispatch
