// SPDX-License-Identifier: MIT
// Compiled body of the synthetic trace generator.
#pragma once

#include <planetserve/workload/rng.hpp>
#include <planetserve/workload/trace_generator.hpp>

#include <algorithm>
#include <cmath>

namespace planetserve::workload {

std::vector<trace_request> generate_trace(const trace_generator_config& c) {
  rng r(c.seed ^ 0x7472616365ull);
  const std::size_t block = std::max<std::size_t>(1, c.block_tokens);
  // Family popularity: Zipf weights, drawn by a binary search of the running sum.
  const std::size_t families = std::max<std::size_t>(1, c.families);
  std::vector<double> cumulative(families);
  double sum = 0;
  for (std::size_t f = 0; f < families; ++f) cumulative[f] = sum += 1.0 / std::pow(static_cast<double>(f + 1), c.family_zipf);
  std::vector<std::vector<std::uint64_t>> family_ids(families);  // made on first use
  std::uint64_t next_id = 0;
  std::vector<std::uint64_t> root;
  for (std::size_t b = 0; b < c.root_blocks; ++b) root.push_back(next_id++);
  // A lognormal with the given mean: mu = ln(mean) - sigma^2 / 2.
  const auto lognormal = [&](double mean, double sigma) {
    return std::exp(std::log(std::max(mean, 1.0)) - sigma * sigma / 2 + sigma * r.normal());
  };
  std::vector<trace_request> out;
  out.reserve(c.requests);
  double t_ms = 0;
  for (std::size_t i = 0; i < c.requests; ++i) {
    if (i > 0 && c.rate_per_s > 0) t_ms += r.exponential(1000.0 / c.rate_per_s);
    trace_request q;
    q.timestamp_ms = std::floor(t_ms);
    q.line = i + 1;
    q.input_length = static_cast<std::uint32_t>(
        std::clamp<double>(std::round(lognormal(c.input_tokens_mean, c.input_sigma)), 1, static_cast<double>(c.max_input_tokens)));
    q.output_length = static_cast<std::uint32_t>(
        std::clamp<double>(std::round(lognormal(c.output_tokens_mean, c.output_sigma)), 1, static_cast<double>(c.max_output_tokens)));
    const std::size_t needed = (q.input_length + block - 1) / block;
    const std::size_t f = static_cast<std::size_t>(
        std::lower_bound(cumulative.begin(), cumulative.end(), r.uniform() * sum) - cumulative.begin());
    auto& fam = family_ids[std::min(f, families - 1)];
    if (fam.empty()) {
      const auto len = static_cast<std::size_t>(std::max(1.0, std::round(r.exponential(c.family_blocks_mean))));
      for (std::size_t b = 0; b < len; ++b) fam.push_back(next_id++);
    }
    for (std::size_t b = 0; b < root.size() && q.hash_ids.size() < needed; ++b) q.hash_ids.push_back(root[b]);
    for (std::size_t b = 0; b < fam.size() && q.hash_ids.size() < needed; ++b) q.hash_ids.push_back(fam[b]);
    while (q.hash_ids.size() < needed) q.hash_ids.push_back(next_id++);
    out.push_back(std::move(q));
  }
  return out;
}

}  // namespace planetserve::workload
