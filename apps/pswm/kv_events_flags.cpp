// SPDX-License-Identifier: MIT
// The KV-events flags shared by `pswm run` and `pswm route`.
#include "kv_events_flags.hpp"

namespace pswm {

void kv_events_flags::add_options(cli::po::options_description& opts, bool sim_note) {
  opts.add_options()
      ("kv-events-endpoints", cli::po::value(&endpoints),
       (std::string("comma list, one per node in node order: where each server publishes KV-cache events "
                    "(vLLM's --kv-events-config endpoint, e.g. tcp://host:5557; pswm sim's --kv-events-endpoint, "
                    "node i on port + i), for policies that route on them (precise)") +
        (sim_note ? "; --sim sets them itself" : ""))
           .c_str())
      ("kv-events-replay-endpoints", cli::po::value(&replay_endpoints),
       "comma list, one per node: each server's KV-events replay endpoint (vLLM's replay_endpoint, e.g. "
       "tcp://host:5558), asked for missed events; without it a gap makes the node's index approximate");
}

std::vector<planetserve::experiment::kv_events_source> kv_events_flags::sources(std::size_t nodes) const {
  std::vector<planetserve::experiment::kv_events_source> out;
  if (endpoints.empty()) {
    if (!replay_endpoints.empty()) throw cli::usage_error("--kv-events-replay-endpoints needs --kv-events-endpoints");
    return out;
  }
  const auto pubs = cli::split_list(endpoints);
  const auto replays = cli::split_list(replay_endpoints);
  if (pubs.size() != nodes)
    throw cli::usage_error("--kv-events-endpoints: " + std::to_string(pubs.size()) + " endpoint(s) for " +
                           std::to_string(nodes) + " node(s): give one per node, in node order");
  if (!replays.empty() && replays.size() != pubs.size())
    throw cli::usage_error("--kv-events-replay-endpoints: " + std::to_string(replays.size()) + " for " +
                           std::to_string(pubs.size()) + " node(s): give one per node, or none");
  for (std::size_t i = 0; i < pubs.size(); ++i) out.push_back({pubs[i], replays.empty() ? std::string() : replays[i], {}});
  return out;
}

}  // namespace pswm
