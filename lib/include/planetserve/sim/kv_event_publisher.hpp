// SPDX-License-Identifier: MIT
// sim::kv_event_publisher: vLLM's ZMQ KV-event publisher (PUB socket, replay ROUTER socket) on an executor.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/kvevents/event.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace planetserve::sim {

/// vLLM's --kv-events-config for publisher "zmq".
struct kv_events_config {
  std::string endpoint;                ///< PUB socket to bind ("tcp://*:5557", vLLM's default); empty: no events
  std::string replay_endpoint;         ///< ROUTER socket for replays ("tcp://*:5558"); empty: none
  std::string topic;                   ///< first frame of every message (vLLM's default: empty)
  std::size_t buffer_steps = 10'000;   ///< batches kept for replay (vLLM's default)
  std::size_t hwm = 100'000;           ///< PUB high-water mark (vLLM's default)
};

/// Publishes batches as vLLM does: multipart (topic, 8-byte big-endian sequence number from
/// 0, msgpack KVEventBatch), keeping the last buffer_steps for the replay socket, which
/// answers a request [start_seq] with every kept batch from start_seq on as (seq, payload)
/// messages, then (-1, empty). Sending never blocks: at the high-water mark PUB drops, as
/// vLLM's does. Runs on the executor's thread; the replay socket is polled through its
/// ZMQ_FD, no thread of our own.
class kv_event_publisher {
 public:
  /// A publisher for `config`; nothing is bound until bind().
  kv_event_publisher(boost::asio::any_io_executor ex, kv_events_config config);
  ~kv_event_publisher();
  kv_event_publisher(const kv_event_publisher&) = delete;
  kv_event_publisher& operator=(const kv_event_publisher&) = delete;

  /// Binds both sockets and starts serving replays; `diag` names the endpoint that failed.
  boost::system::error_code bind(diagnostics& diag);

  /// The PUB endpoint as bound (a wildcard port resolved), for subscribers to connect to.
  std::string endpoint() const;
  /// The replay endpoint as bound, or empty.
  std::string replay_endpoint() const;

  /// Encodes and sends `batch` with the next sequence number.
  void publish(const kvevents::event_batch& batch);

  /// The sequence number the next batch gets.
  std::int64_t next_sequence() const noexcept;

  /// Fault injection for tests: the next `n` batches get their numbers and go to the replay
  /// buffer but not out on PUB, as if the network lost them.
  void drop_next(std::size_t n) noexcept;

  /// Closes both sockets.
  void stop() noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace planetserve::sim
