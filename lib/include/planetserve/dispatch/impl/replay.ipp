// SPDX-License-Identifier: MIT
// Compiled body of dispatch::replay.
#pragma once

#include <planetserve/dispatch/replay.hpp>

namespace planetserve::dispatch {

std::vector<replay_choice> replay(policy& p, std::span<const replay_request> requests, std::size_t completion_lag) {
  const std::size_t lag = completion_lag == 0 ? 1 : completion_lag;
  std::vector<replay_choice> out;
  out.reserve(requests.size());
  std::size_t completed = 0;
  auto complete_one = [&] {
    const auto& c = out[completed];
    if (c.node != no_node)
      p.on_finished(c.node, outcome{.e2e = requests[completed].e2e,
                                    .request_id = completed,
                                    .routed_tokens = static_cast<std::uint32_t>(requests[completed].tokens.size())});
    ++completed;
  };
  for (std::size_t i = 0; i < requests.size(); ++i) {
    while (completed + lag <= i) complete_one();
    const request_view req{requests[i].tokens, static_cast<std::uint64_t>(i)};
    const auto d = p.choose(req);
    out.push_back({d.node, d.fired, d.custom_rule});
    if (d.has_node()) p.on_dispatched(d.node, req);
  }
  while (completed < out.size()) complete_one();
  return out;
}

}  // namespace planetserve::dispatch
