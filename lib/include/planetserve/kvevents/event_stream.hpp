// SPDX-License-Identifier: MIT
// kvevents::event_stream: one publisher's sequence-numbered batches, in order, with replay of gaps (sans-io).
#pragma once

#include <planetserve/kvevents/event.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace planetserve::kvevents {

/// Puts one server's published batches in order. vLLM numbers batches 0, 1, 2... and keeps
/// the last ones for its replay socket; a subscriber may join late (the slow-joiner drops the
/// first messages), lose messages (high-water mark), or see the numbers restart (the server
/// restarted, its cache empty). The stream asks for a replay from 0 when it starts and from
/// the first missing number at a gap, holds live batches while a replay runs, and tells its
/// owner whether the batches applied so far describe the whole cache (synced) or not (lost).
/// The shell (the ZMQ subscriber) feeds it frames and timeouts; tests feed it directly.
///
/// The shell's part of the contract: on_replay and on_replay_end carry only the answer to the
/// latest request_replay. An earlier request's answer (one asked again before its end came,
/// or one that failed) must never reach the stream: taken for the new one's, it could come
/// from another point or from the server's previous life. The ZMQ subscriber reopens its
/// replay socket for that, so vLLM's replay socket drops the old answer.
///
/// A replay from 0 that fails before anything was applied (the publisher not up yet when the
/// stream starts, or its replay socket not connected yet after a restart) reports lost, and
/// the next batch heard starts the stream over (restarted, then another replay from 0), so
/// the node is exact once the server answers.
class event_stream {
 public:
  /// What the stream asks of its owner. Every handler must be set.
  struct handlers {
    std::function<void(const event_batch&)> apply;           ///< the next batch, in order
    std::function<void()> synced;                             ///< every batch since seq 0 was applied: the index is exact
    std::function<void(std::string_view why)> lost;          ///< batches are missing: the index is not exact
    std::function<void()> restarted;                          ///< the numbers went back (or the stream starts over): forget the index
    std::function<void(std::int64_t from)> request_replay;    ///< ask the replay socket for `from` onwards, dropping any earlier request's answer
    std::function<void(std::string_view why)> malformed;      ///< a payload did not decode (skipped, counts as lost)
  };

  /// A stream for one publisher; `can_replay`: a replay endpoint is known.
  event_stream(handlers h, bool can_replay) : h_(std::move(h)), can_replay_(can_replay) {}

  /// Starts: with a replay endpoint, asks for everything from 0.
  void start();
  /// A batch from the PUB socket.
  void on_live(std::int64_t seq, std::span<const std::uint8_t> payload);
  /// A batch from the replay socket.
  void on_replay(std::int64_t seq, std::span<const std::uint8_t> payload);
  /// The replay socket's end marker (seq -1).
  void on_replay_end();
  /// The subscription reconnected after losing its publisher: a restarted server (its
  /// numbers begin again at 0, but the first ones seen may look in order) or a network
  /// break (batches lost). Either way the history is read again: forget and replay from 0.
  void on_reconnected();
  /// The replay did not answer in time (or could not be sent); the shell drops its answer if it comes later.
  void on_replay_failed(std::string_view why);

  /// Whether a replay is running.
  bool replaying() const noexcept { return replaying_; }
  /// The next sequence number expected, if any was seen.
  std::optional<std::int64_t> expected() const noexcept { return expected_; }
  /// Batches that did not decode.
  std::uint64_t malformed_batches() const noexcept { return malformed_; }
  /// Gaps seen (each asked for a replay if it could).
  std::uint64_t gaps() const noexcept { return gaps_; }
  /// Times the numbers went back, or the publisher was reconnected to.
  std::uint64_t restarts() const noexcept { return restarts_; }

 private:
  bool deliver(std::int64_t seq, std::span<const std::uint8_t> payload);  // false: it did not decode
  void begin_replay(std::int64_t from);
  void flush_held();  // applies the held batches in order, reporting a hole
  void report_hole(std::string_view why);  // lost, once per replay
  void start_from(std::int64_t seq, std::span<const std::uint8_t> payload);  // the first batch of a stream that knows nothing: 0 syncs, else a replay from 0

  handlers h_;
  bool can_replay_;
  bool replaying_ = false;
  bool replay_complete_ = false;  // the running replay has had no hole
  std::int64_t replay_from_ = 0;
  bool hole_reported_ = false;  // the running replay has reported lost already
  bool applied_ = false;        // a batch was applied since the stream started, or last restarted
  bool start_over_ = false;     // a replay failed with nothing applied: the next batch starts over
  std::optional<std::int64_t> expected_;
  std::vector<std::pair<std::int64_t, std::vector<std::uint8_t>>> held_;
  std::uint64_t malformed_ = 0, gaps_ = 0, restarts_ = 0;
};

}  // namespace planetserve::kvevents
