// SPDX-License-Identifier: MIT
// dispatch::hrt_policy: our PlanetServe policy: longest prefix, then live load, random ties.
#pragma once

#include <planetserve/dispatch/policy.hpp>
#include <planetserve/dispatch/detail/rng.hpp>

namespace planetserve::dispatch {

/// `hrt`: among the nodes holding the longest prefix, the least loaded, provided its load
/// is within max_imbalance of the least loaded node; otherwise the node maximising tokens
/// saved (matched blocks * block size) - tokens_per_load * (load - least load). No node holds
/// a prefix: the least loaded. Load = running + waiting from the last /metrics scrape plus
/// this router's dispatches since that scrape (in flight when never scraped), plus
/// kv_usage_weight * KV-cache usage. Ties are broken at random so equal nodes share work.
class hrt_policy final : public policy {
 public:
  /// A policy for `config`; throws std::invalid_argument (naming the field) if check(config, diag) fails.
  explicit hrt_policy(const policy_config& config);
  std::string_view name() const noexcept override { return "hrt"; }

 protected:
  decision do_choose(const request_view& req, const fleet_view& fleet) override;
  void do_reset() override;

 public:
  /// The load hrt sees on `node` now.
  double load(node_index node) const;

 private:
  detail::rng rng_;
};

}  // namespace planetserve::dispatch
