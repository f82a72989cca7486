// SPDX-License-Identifier: MIT
// dispatch::rr_policy: round-robin over available nodes, the seed's baseline.
#pragma once

#include <planetserve/dispatch/policy.hpp>

namespace planetserve::dispatch {

/// `rr`: node i gets request i (mod nodes), skipping unavailable nodes; exactly the seed's
/// baseline when all nodes are up.
class rr_policy final : public policy {
 public:
  /// A policy for `config`.
  explicit rr_policy(const policy_config& config);
  std::string_view name() const noexcept override { return "rr"; }

 protected:
  decision do_choose(const request_view& req, const fleet_view& fleet) override;
  void do_reset() override;

 private:
  node_index next_ = 0;
};

}  // namespace planetserve::dispatch
