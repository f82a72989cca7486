// SPDX-License-Identifier: MIT
// node_timeline: one node's /metrics scrapes over a run, and what can be read off them.
#pragma once

#include <planetserve/prom/vllm_snapshot.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace planetserve::experiment {

/// One successful scrape.
struct node_sample {
  double t_s = 0;            ///< when the page arrived, seconds since the run started
  prom::vllm_snapshot snap;  ///< what it said
};

/// Every scrape of one node, in time order; failed scrapes leave gaps.
struct node_timeline {
  std::string name;                 ///< "node_0", ...
  std::string url;                  ///< the node's base URL
  std::vector<node_sample> samples; ///< successful scrapes
  std::size_t failed_scrapes = 0;   ///< scrapes that failed (timeout, status, parse error)
  std::string first_failure;        ///< what the first failure said

  /// The last sample at or before `t_s`, or null.
  const node_sample* at(double t_s) const noexcept;
  /// Samples with t in [from_s, to_s].
  std::pair<const node_sample*, const node_sample*> between(double from_s, double to_s) const noexcept;
};

}  // namespace planetserve::experiment
