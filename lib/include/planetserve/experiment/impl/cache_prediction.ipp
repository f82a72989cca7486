// SPDX-License-Identifier: MIT
// Compiled body of experiment::cache_prediction.
#pragma once

#include <planetserve/experiment/cache_prediction.hpp>

#include <cmath>
#include <unordered_set>

namespace planetserve::experiment {

void fill_unreported_misses(std::span<request_record> records) {
  std::unordered_set<dispatch::node_index> reporting;
  for (const auto& r : records)
    if (r.cached_tokens && r.node != dispatch::no_node) reporting.insert(r.node);
  for (auto& r : records)
    if (r.usage_reported && !r.cached_tokens && reporting.contains(r.node)) r.cached_tokens = 0;
}

cache_prediction measure_cache_prediction(std::span<const request_record> records) {
  cache_prediction c;
  double abs_sum = 0, signed_sum = 0;
  for (const auto& r : records) {
    if (!r.ok) continue;
    if (r.predicted_cached_tokens) ++c.predicted;
    if (r.cached_tokens) ++c.reported;
    if (!r.predicted_cached_tokens || !r.cached_tokens) continue;
    ++c.compared;
    const double diff = static_cast<double>(*r.predicted_cached_tokens) - static_cast<double>(*r.cached_tokens);
    abs_sum += std::abs(diff);
    signed_sum += diff;
    const bool said = *r.predicted_cached_tokens > 0, had = *r.cached_tokens > 0;
    ++(said ? (had ? c.hit_hit : c.hit_miss) : (had ? c.miss_hit : c.miss_miss));
  }
  if (c.compared > 0) {
    c.mae_tokens = abs_sum / static_cast<double>(c.compared);
    c.bias_tokens = signed_sum / static_cast<double>(c.compared);
  }
  return c;
}

}  // namespace planetserve::experiment
