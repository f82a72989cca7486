// SPDX-License-Identifier: MIT
// arrivals: seeded absolute send times for N requests (Poisson, gamma with burstiness, constant).
#pragma once

#include <planetserve/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace planetserve::workload {

/// How the gaps between consecutive sends are drawn.
enum class arrival_process {
  poisson,   ///< exponential gaps: the seed's behaviour
  gamma,     ///< gamma gaps with shape = burstiness and the same mean
  constant,  ///< every gap equals the mean interval
};

/// "poisson", "gamma" or "constant"; nullopt for anything else.
std::optional<arrival_process> parse_arrival_process(std::string_view name) noexcept;

/// The name parse_arrival_process accepts.
std::string_view to_string(arrival_process p) noexcept;

/// Settings of an arrival process.
struct arrival_config {
  /// Which process draws the gaps.
  arrival_process process = arrival_process::poisson;
  /// Mean time between consecutive sends (the seed's --interval); 0 sends everything at once.
  std::chrono::duration<double> mean_interval{1.0};
  /// Gamma only: the shape. Below 1 is burstier than Poisson, above 1 more regular, 1 is Poisson.
  double burstiness = 1.0;
  /// Same seed, same times, on every machine.
  std::uint64_t seed = 0;
  /// With a ramp: the rate rises (or falls) linearly from this many requests per second at the
  /// first request to ramp_end_rps at the last, instead of following mean_interval. 0: no ramp.
  double ramp_start_rps = 0;
  /// The ramp's rate at the last request, requests per second (both > 0 for a ramp).
  double ramp_end_rps = 0;
};

/// "R0:R1" (requests per second, both > 0) into the ramp fields of `config`; fails with
/// invalid_argument saying what is wrong in `diag`.
boost::system::error_code parse_ramp(std::string_view text, arrival_config& config, diagnostics& diag);

/// Send times of `n` requests as offsets from the start of the run, non-decreasing.
/// The first request goes at 0; request i goes one drawn gap after request i-1 (as a
/// "send, then wait a gap" loop does). With a ramp the times come from a non-homogeneous
/// process by time rescaling: unit-mean gaps drawn by `process` are cumulative intensity,
/// mapped back through the linear rate's integral over the ramp's duration 2(n-1)/(R0+R1), so
/// the rate at the start is R0 and at the end R1 (constant gives evenly spread intensity). Fails with invalid_argument (and says why in
/// `diag`) for a negative or non-finite interval or a burstiness that is not > 0.
result<std::vector<std::chrono::nanoseconds>> make_arrivals(std::size_t n, const arrival_config& config,
                                                            diagnostics& diag);

}  // namespace planetserve::workload
