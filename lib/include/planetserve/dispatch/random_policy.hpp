// SPDX-License-Identifier: MIT
// dispatch::random_policy: a uniformly random available node.
#pragma once

#include <planetserve/dispatch/seeded_policy.hpp>

namespace planetserve::dispatch {

/// `random`: uniformly among available nodes, from the seeded generator.
class random_policy final : public seeded_policy {
 public:
  /// A policy for `config` (its seed drives the picks).
  explicit random_policy(const policy_config& config);
  std::string_view name() const noexcept override { return "random"; }

 protected:
  decision do_choose(const request_view& req, const fleet_view& fleet) override;
};

}  // namespace planetserve::dispatch
