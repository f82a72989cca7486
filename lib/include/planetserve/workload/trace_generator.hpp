// SPDX-License-Identifier: MIT
// trace_generator: synthetic Mooncake-format traces: Poisson arrivals, shared system and family prefixes, long-tailed lengths.
#pragma once

#include <planetserve/workload/trace.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace planetserve::workload {

/// The shape of a generated trace. Lengths are lognormal (long-tailed, as production traces
/// are); the defaults are of the order of the public Mooncake trace's first lines (inputs of
/// a few thousand tokens, outputs of a few hundred), not fitted to it.
struct trace_generator_config {
  std::size_t requests = 1000;        ///< lines to write
  double rate_per_s = 1.0;            ///< Poisson arrivals, requests per second
  std::size_t block_tokens = 512;     ///< tokens per hash id
  double input_tokens_mean = 7000;    ///< mean input_length
  double input_sigma = 0.8;           ///< lognormal sigma of input_length
  double output_tokens_mean = 400;    ///< mean output_length
  double output_sigma = 0.6;          ///< lognormal sigma of output_length
  std::size_t max_input_tokens = 131072;  ///< input_length is capped here
  std::size_t max_output_tokens = 8192;   ///< output_length is capped here
  std::size_t root_blocks = 1;        ///< blocks every request starts with (a shared system prompt)
  std::size_t families = 100;         ///< shared prefixes (documents, tools, agents) requests draw from
  double family_zipf = 1.0;           ///< popularity skew of the families (0: uniform)
  double family_blocks_mean = 4;      ///< mean blocks of a family's prefix (exponential, at least 1)
  std::uint64_t seed = 0;             ///< same seed, same trace
};

/// A trace of config.requests requests, lines numbered from 1, timestamps in whole ms.
/// Hash ids are numbered in order of first use, as in Mooncake's files, and a given id always
/// follows the same ids (the trace's blocks form a tree).
std::vector<trace_request> generate_trace(const trace_generator_config& config);

}  // namespace planetserve::workload
