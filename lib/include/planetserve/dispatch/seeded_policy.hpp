// SPDX-License-Identifier: MIT
// dispatch::seeded_policy: a load-only policy that draws from a generator seeded by its config.
#pragma once

#include <planetserve/dispatch/detail/rng.hpp>
#include <planetserve/dispatch/policy.hpp>

namespace planetserve::dispatch {

/// Base of the policies that draw at random (random, least-loaded's ties, p2c): the
/// generator starts from `policy_config::seed` and starts again from it at reset(), so a
/// run's decisions are the same for the same seed on every platform. They track no prefixes.
class seeded_policy : public policy {
 protected:
  /// A policy for `config`, its generator seeded with `config.seed`.
  explicit seeded_policy(const policy_config& config) : policy(config, false), rng_(config.seed) {}
  void do_reset() override { rng_.seed(config().seed); }
  /// The generator.
  detail::rng& rng() noexcept { return rng_; }

 private:
  detail::rng rng_;
};

}  // namespace planetserve::dispatch
