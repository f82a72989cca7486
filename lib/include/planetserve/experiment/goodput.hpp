// SPDX-License-Identifier: MIT
// goodput_spec: per-request latency bounds (vLLM bench's --goodput) and the test of one request against them.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/experiment/request_record.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace planetserve::experiment {

/// Latency bounds a request must all meet to count towards goodput; an unset bound is not
/// checked. Milliseconds, as vLLM bench's `--goodput KEY:VALUE` takes them.
struct goodput_spec {
  std::optional<double> ttft_ms;  ///< time to first token, at most this (key `ttft`)
  std::optional<double> tpot_ms;  ///< time per output token after the first, at most this (key `tpot`)
  std::optional<double> e2el_ms;  ///< send to last byte, at most this (key `e2el`)
};

/// Reads "ttft:500,tpot:50,e2el:2000": KEY:MS pairs separated by commas or spaces (vLLM's
/// `--goodput ttft:500 tpot:50`). Fails with invalid_argument, naming the pair and what is
/// wrong in `diag`, for an unknown key, a value that is not a number >= 0, a key given twice
/// or no pair at all.
result<goodput_spec> parse_goodput(std::string_view text, diagnostics& diag);

/// The canonical form parse_goodput reads back: "ttft:500,tpot:50" (keys in ttft, tpot, e2el order).
std::string to_string(const goodput_spec& spec);

/// Whether a request completed and met every bound. A request with fewer than two output
/// tokens has no TPOT and meets the TPOT bound (vLLM counts its TPOT as 0).
bool meets_goodput(const request_record& r, const goodput_spec& spec) noexcept;

}  // namespace planetserve::experiment
