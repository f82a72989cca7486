// SPDX-License-Identifier: MIT
// Compiled body of the arrival processes.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/workload/arrivals.hpp>
#include <planetserve/workload/rng.hpp>

#include <algorithm>
#include <charconv>
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

boost::system::error_code parse_ramp(std::string_view text, arrival_config& config, diagnostics& diag) {
  const auto colon = text.find(':');
  double r[2] = {0, 0};
  bool ok = colon != std::string_view::npos;
  const std::string_view parts[2] = {text.substr(0, ok ? colon : 0), ok ? text.substr(colon + 1) : std::string_view()};
  for (int k = 0; ok && k < 2; ++k) {
    const auto [end, ec] = std::from_chars(parts[k].data(), parts[k].data() + parts[k].size(), r[k]);
    ok = ec == std::errc() && end == parts[k].data() + parts[k].size() && std::isfinite(r[k]) && r[k] > 0 && r[k] <= 1e6;
  }
  if (!ok) {
    diag.message = "ramp '" + std::string(text) +
                   "': give START:END, two request rates per second above 0 (e.g. 1:20 ramps from 1 to 20 req/s)";
    return make_error_code(error::invalid_argument);
  }
  config.ramp_start_rps = r[0];
  config.ramp_end_rps = r[1];
  return {};
}

namespace {

/// Time at which the linear rate r0 + (r1 - r0) t / T has integral `s` (t beyond T: rate r1).
double ramp_time(double s, double r0, double r1, double T) {
  const double a = (r1 - r0) / (2.0 * T);
  const double at_end = T * (r0 + r1) / 2.0;
  if (s >= at_end) return T + (s - at_end) / r1;
  // Root of a t^2 + r0 t - s = 0 written without the cancellation of (-r0 + sqrt(...)) / 2a.
  return 2.0 * s / (r0 + std::sqrt(std::max(0.0, r0 * r0 + 4.0 * a * s)));
}

}  // namespace

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
  const bool ramp = config.ramp_start_rps != 0 || config.ramp_end_rps != 0;
  if (ramp && !(config.ramp_start_rps > 0 && config.ramp_end_rps > 0 && std::isfinite(config.ramp_start_rps) &&
                std::isfinite(config.ramp_end_rps))) {
    diag.message = "arrivals: a ramp's start and end rates must both be > 0 requests per second";
    return make_error_code(error::invalid_argument);
  }
  std::vector<std::chrono::nanoseconds> times;
  times.reserve(n);
  if (ramp) {
    // Gaps of mean 1 are steps of cumulative intensity; n - 1 of them span the ramp on average.
    const double r0 = config.ramp_start_rps, r1 = config.ramp_end_rps;
    const double T = n > 1 ? 2.0 * static_cast<double>(n - 1) / (r0 + r1) : 0.0;
    rng gen(config.seed);
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) {
        switch (config.process) {
          case arrival_process::poisson: s += gen.exponential(1.0); break;
          case arrival_process::gamma: s += gen.gamma(config.burstiness) / config.burstiness; break;
          case arrival_process::constant: s += 1.0; break;
        }
      }
      const double t = T > 0 ? ramp_time(s, r0, r1, T) : 0.0;
      times.emplace_back(static_cast<std::chrono::nanoseconds::rep>(std::llround(t * 1e9)));
    }
    return times;
  }
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
