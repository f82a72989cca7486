// SPDX-License-Identifier: MIT
// experiment::think_time_spec, history_mode: how a multi-turn run paces and builds its turns.
#pragma once

#include <planetserve/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace planetserve::experiment {

/// The user's pause between a reply and the next turn (`--think-time`).
struct think_time_spec {
  /// Its law.
  enum class shape : std::uint8_t {
    constant,     ///< always `a` seconds
    exponential,  ///< exponential with mean `a` seconds
    uniform,      ///< uniform in [a, b] seconds
  };
  shape law = shape::constant;  ///< the law
  double a = 0;                 ///< constant / mean / lower bound, seconds
  double b = 0;                 ///< upper bound (uniform), seconds
};

/// Reads `--think-time`: "S" or "const:S", "exp:MEAN", "uniform:A:B" (seconds). On bad text,
/// error::invalid_argument with what is wrong and an example in `diag`.
result<think_time_spec> parse_think_time(std::string_view text, diagnostics& diag);
/// The spec as parse_think_time reads it back.
std::string to_string(const think_time_spec& t);

/// Where the history's assistant turns come from (`--history`).
enum class history_mode : std::uint8_t {
  live,     ///< the replies the run actually received
  dataset,  ///< the dataset's own replies
};

}  // namespace planetserve::experiment
