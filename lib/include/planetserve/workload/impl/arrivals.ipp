// SPDX-License-Identifier: MIT
// Compiled body of the arrival processes.
#pragma once

#include <planetserve/workload/arrivals.hpp>
#include <planetserve/workload/rng.hpp>

#include <cmath>
#include <string>

namespace planetserve::workload {

std::optional<arrival_process> parse_arrival_process(std::string_view name) noexcept {
  if (name == "poisson") return arrival_process::poisson;
  if (name == "gamma") return arrival_process::gamma;
  if (name == "constant") return arrival_process::constant;
  return std::nullopt;
}

std::string_view to_string(arrival_process p) noexcept {
  switch (p) {
    case arrival_process::poisson: return "poisson";
    case arrival_process::gamma: return "gamma";
    case arrival_process::constant: return "constant";
  }
  return "unknown";
}

result<std::vector<std::chrono::nanoseconds>> make_arrivals(std::size_t n, const arrival_config& config,
                                                            diagnostics& diag) {
  const double mean = config.mean_interval.count();
  if (!std::isfinite(mean) || mean < 0.0) {
    diag.message = "arrivals: the mean interval must be a finite number of seconds >= 0, got " +
                   std::to_string(mean);
    return make_error_code(error::invalid_argument);
  }
  if (config.process == arrival_process::gamma && !(config.burstiness > 0.0 && std::isfinite(config.burstiness))) {
    diag.message = "arrivals: burstiness (the gamma shape) must be > 0, got " +
                   std::to_string(config.burstiness);
    return make_error_code(error::invalid_argument);
  }
  std::vector<std::chrono::nanoseconds> times;
  times.reserve(n);
  rng gen(config.seed);
  // Accumulate in double seconds and round each absolute time once, so rounding never drifts.
  double t = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) {
      switch (config.process) {
        case arrival_process::poisson: t += gen.exponential(mean); break;
        case arrival_process::gamma: t += gen.gamma(config.burstiness) * (mean / config.burstiness); break;
        case arrival_process::constant: t += mean; break;
      }
    }
    times.emplace_back(static_cast<std::chrono::nanoseconds::rep>(std::llround(t * 1e9)));
  }
  return times;
}

}  // namespace planetserve::workload
