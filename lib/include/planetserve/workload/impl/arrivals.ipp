// SPDX-License-Identifier: MIT
// Compiled body of the arrival processes.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
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
    // A long schedule (a huge mean interval times many requests) can pass the nanosecond
    // clock's range, where converting would be undefined: refuse it.
    const auto ns = planetserve::detail::checked_cast<std::chrono::nanoseconds::rep>(std::round(t * 1e9));
    if (!ns) {
      diag.message = "arrivals: request " + std::to_string(i + 1) + " would be due " + std::to_string(t) +
                     " s after the start, past what the clock can count; give a shorter mean interval";
      return make_error_code(error::invalid_argument);
    }
    times.emplace_back(*ns);
  }
  return times;
}

}  // namespace planetserve::workload
