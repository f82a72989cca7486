// SPDX-License-Identifier: MIT
// dispatch::session_policy: session affinity by consistent hashing, with a load fallback.
#pragma once

#include <planetserve/dispatch/policy.hpp>

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace planetserve::dispatch {

/// The request_view::session key of a session id (a dataset's "id", say): a 64-bit hash,
/// never 0 (0 means "no session").
std::uint64_t session_key(std::string_view session_id) noexcept;

/// `session`: every request of a session goes to the session's home node, found on a hash
/// ring of config.session.virtual_nodes points per node (the first point clockwise of the
/// session key's hash). A home that is unavailable, or overloaded (more than
/// balance_abs in-flight requests above the least loaded available node, and more than
/// balance_rel times its count), is passed over for the next node clockwise that is neither:
/// that is bounded-load consistent hashing, so a session's spill-over node is also stable and
/// a node that leaves moves only its own sessions. Requests without a session go to the node
/// with the fewest in flight (lowest index among equals).
class session_policy final : public policy {
 public:
  /// A policy for `config` (nodes and config.session).
  explicit session_policy(const policy_config& config);
  std::string_view name() const noexcept override { return "session"; }

  /// The home of session key `key` when every node is up and idle.
  node_index home_of(std::uint64_t key) const noexcept;

 protected:
  decision do_choose(const request_view& req, const fleet_view& fleet) override;

 private:
  /// Index into ring_ of the first point at or after the hash of `key`.
  std::size_t ring_start(std::uint64_t key) const noexcept;
  bool acceptable(node_index node, std::uint32_t least) const noexcept;

  std::vector<std::pair<std::uint64_t, node_index>> ring_;  // (point hash, node), sorted by hash
};

}  // namespace planetserve::dispatch
