// SPDX-License-Identifier: MIT
// dispatch::least_loaded_policy: the node with the fewest requests in flight.
#pragma once

#include <planetserve/dispatch/seeded_policy.hpp>

namespace planetserve::dispatch {

/// `least-loaded`: fewest requests in flight (this router's own count); ties broken at random.
class least_loaded_policy final : public seeded_policy {
 public:
  /// A policy for `config`.
  explicit least_loaded_policy(const policy_config& config);
  std::string_view name() const noexcept override { return "least-loaded"; }

 protected:
  decision do_choose(const request_view& req, const fleet_view& fleet) override;
};

}  // namespace planetserve::dispatch
