// SPDX-License-Identifier: MIT
// dispatch::p2c_policy: power of two choices.
#pragma once

#include <planetserve/dispatch/seeded_policy.hpp>

namespace planetserve::dispatch {

/// `p2c`: draws two distinct available nodes, takes the one with fewer requests in flight
/// (the first drawn on a tie).
class p2c_policy final : public seeded_policy {
 public:
  /// A policy for `config` (its seed drives the two picks).
  explicit p2c_policy(const policy_config& config);
  std::string_view name() const noexcept override { return "p2c"; }

 protected:
  decision do_choose(const request_view& req, const fleet_view& fleet) override;
};

}  // namespace planetserve::dispatch
