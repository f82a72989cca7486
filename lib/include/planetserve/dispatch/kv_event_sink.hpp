// SPDX-License-Identifier: MIT
// dispatch::kv_event_sink: a policy that wants each node's KV-cache events says so by implementing this.
#pragma once

#include <planetserve/dispatch/decision.hpp>
#include <planetserve/kvevents/event.hpp>

#include <string_view>

namespace planetserve::dispatch {

/// What a KV-event subscriber tells a policy about each node's stream (kvevents::event_stream
/// decides which). A runner that finds this interface on its policy starts a subscriber.
class kv_event_sink {
 public:
  virtual ~kv_event_sink() = default;
  /// The node's next batch, in sequence order.
  virtual void on_kv_batch(node_index node, const kvevents::event_batch& batch) = 0;
  /// Every batch the node ever published has been applied: what the policy built is exact.
  virtual void on_kv_synced(node_index node) = 0;
  /// Batches are missing (gap not replayed, malformed payload, no answer): the node's index
  /// is not exact until its cache is next cleared. `why` is for the record.
  virtual void on_kv_lost(node_index node, std::string_view why) = 0;
  /// The node's publisher restarted (its sequence went back): forget what it held.
  virtual void on_kv_restarted(node_index node) = 0;
};

}  // namespace planetserve::dispatch
