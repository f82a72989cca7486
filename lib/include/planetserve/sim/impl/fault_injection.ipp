// SPDX-License-Identifier: MIT
// Compiled body of sim::fault_injector.
#pragma once

#include <planetserve/sim/fault_injection.hpp>
#include <planetserve/sim/random.hpp>

#include <stdexcept>

namespace planetserve::sim {

fault_injector::fault_injector(fault_config config) : config_(std::move(config)) {
  if (config_.error_rate < 0 || config_.error_rate > 1)
    throw std::invalid_argument("fault_config: error_rate must be in [0, 1]");
  if (config_.close_rate < 0 || config_.close_rate > 1)
    throw std::invalid_argument("fault_config: close_rate must be in [0, 1]");
  if (config_.reset_rate < 0 || config_.reset_rate > 1)
    throw std::invalid_argument("fault_config: reset_rate must be in [0, 1]");
  if (config_.error_rate > 0 && config_.error_statuses.empty())
    throw std::invalid_argument("fault_config: error_rate > 0 needs at least one status");
}

fault_decision fault_injector::decide(std::uint64_t index) const {
  // Independent streams per decision, so changing one rate does not reshuffle the others.
  random err(mix_seed(config_.seed ^ 0xe5505ULL, index));
  random cls(mix_seed(config_.seed ^ 0xc105eULL, index));
  random dly(mix_seed(config_.seed ^ 0xde1a4ULL, index));
  random rst(mix_seed(config_.seed ^ 0x4e5e7ULL, index));
  fault_decision d;
  if (config_.error_rate > 0 && err.uniform() < config_.error_rate)
    d.error_status = config_.error_statuses[static_cast<std::size_t>(err.below(config_.error_statuses.size()))];
  if (config_.close_rate > 0 && cls.uniform() < config_.close_rate) d.close_after_chunks = config_.close_after_chunks;
  if (config_.reset_rate > 0 && rst.uniform() < config_.reset_rate) d.reset = true;
  d.delay = config_.added_delay;
  if (config_.delay_jitter.count() > 0) {
    const auto jitter_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(config_.delay_jitter).count();
    d.delay += std::chrono::nanoseconds(static_cast<std::int64_t>(dly.below(static_cast<std::uint64_t>(jitter_ns) + 1)));
  }
  return d;
}

bool fault_injector::healthy(std::chrono::nanoseconds since_start) const noexcept {
  return since_start >= config_.unhealthy_for;
}

bool fault_injector::enabled() const noexcept {
  return config_.error_rate > 0 || config_.close_rate > 0 || config_.reset_rate > 0 || config_.unhealthy_for.count() > 0 ||
         config_.added_delay.count() > 0 || config_.delay_jitter.count() > 0;
}

}  // namespace planetserve::sim
