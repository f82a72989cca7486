// SPDX-License-Identifier: MIT
// Compiled body of experiment::progress_text.
#pragma once

#include <planetserve/experiment/progress.hpp>

#include <cmath>
#include <cstdio>

namespace planetserve::experiment {

std::string progress_text(const progress_report& r) {
  const std::string p50 = std::isfinite(r.p50_ttft_s) ? std::to_string(std::lround(r.p50_ttft_s * 1000)) + " ms" : "-";
  char line[320];
  std::snprintf(line, sizeof line, "[%.*s epoch %zu] sent %zu/%zu  done %zu  failed %zu  rate %.1f/s  in flight %zu  p50 TTFT %s",
                static_cast<int>(std::min<std::size_t>(r.policy.size(), 64)), r.policy.data(), r.epoch + 1,
                r.counts.sent, r.counts.total, r.counts.completed, r.counts.failed, r.rate_per_s, r.counts.in_flight,
                p50.c_str());
  return line;
}

}  // namespace planetserve::experiment
