// SPDX-License-Identifier: MIT
// experiment::kv_event_subscriber: each node's ZMQ KV events, in order, handed to a policy on the run's io_context.
#pragma once

#include <planetserve/dispatch/kv_event_sink.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace planetserve::experiment {

/// Where one node publishes its KV-cache events (vLLM's --kv-events-config).
struct kv_events_source {
  std::string endpoint;         ///< the PUB socket ("tcp://host:5557")
  std::string replay_endpoint;  ///< the replay ROUTER socket ("tcp://host:5558"); empty: none
  std::string topic;            ///< topic prefix to subscribe to (vLLM's default: empty, every topic)
};

/// Per-node counters of a subscription.
struct kv_subscription_stats {
  std::uint64_t batches = 0;    ///< batches received (live and replayed)
  std::uint64_t malformed = 0;  ///< messages that were not (topic, 8-byte seq, payload) or did not decode
  std::uint64_t gaps = 0;       ///< sequence gaps seen
  std::uint64_t restarts = 0;   ///< times the sequence went back
  std::uint64_t lost = 0;       ///< times the node's index was declared incomplete
  bool synced = false;          ///< the index has been exact at some point
};

/// Subscribes to every node's publisher and feeds the policy's kv_event_sink through a
/// kvevents::event_stream per node (ordering, replay of gaps, restarts).
///
/// Threading: no thread of its own. Each ZeroMQ socket's ZMQ_FD is watched by an Asio
/// posix::stream_descriptor on the run's io_context, and messages are drained with
/// non-blocking receives, so batches reach the policy on the thread that calls choose(),
/// between two decisions, with no lock and no queue. (A receiving thread would need a
/// lock or a hand-off queue to the policy, and would not make events arrive sooner: the
/// policy reads them only between decisions anyway.)
///
/// Problems are logged once per node (the first lost reason; later ones are only counted).
class kv_event_subscriber {
 public:
  /// Subscriptions for `sources` (one per node, by node index) feeding `sink`, which must
  /// outlive the subscriber or its stop(). `names` label nodes in `log`.
  kv_event_subscriber(boost::asio::any_io_executor ex, std::vector<kv_events_source> sources,
                      dispatch::kv_event_sink& sink, std::vector<std::string> names, std::ostream& log,
                      std::chrono::milliseconds replay_timeout = std::chrono::seconds(2));
  ~kv_event_subscriber();
  kv_event_subscriber(const kv_event_subscriber&) = delete;
  kv_event_subscriber& operator=(const kv_event_subscriber&) = delete;

  /// Connects every node's sockets and starts each stream (a replay from 0 where a replay
  /// endpoint is known). Connecting never fails in ZeroMQ: an endpoint that never answers
  /// shows as a node that never syncs (the replay times out) and is logged so.
  void start();
  /// Stops every subscription; nothing reaches the sink afterwards.
  void stop() noexcept;

  /// Node `node`'s counters.
  const kv_subscription_stats& stats(std::size_t node) const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace planetserve::experiment
