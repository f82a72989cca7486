// SPDX-License-Identifier: MIT
// Compiled body of kvevents::event_stream.
#pragma once

#include <planetserve/kvevents/codec.hpp>
#include <planetserve/kvevents/event_stream.hpp>

namespace planetserve::kvevents {

void event_stream::start() {
  if (can_replay_) begin_replay(0);
}

void event_stream::begin_replay(std::int64_t from) {
  replaying_ = true;
  replay_complete_ = true;
  hole_reported_ = false;
  replay_from_ = from;
  if (!expected_) expected_ = from;
  h_.request_replay(from);
}

void event_stream::report_hole(std::string_view why) {
  replay_complete_ = false;
  if (hole_reported_) return;
  hole_reported_ = true;
  h_.lost(why);
}

bool event_stream::deliver(std::int64_t seq, std::span<const std::uint8_t> payload) {
  expected_ = seq + 1;
  applied_ = true;
  diagnostics d;
  auto b = decode_batch(payload, d);
  if (!b) {
    ++malformed_;
    replay_complete_ = false;  // a replay with a batch missing is no history from 0
    hole_reported_ = true;     // malformed() counts as lost
    h_.malformed(d.message);
    return false;
  }
  h_.apply(*b);
  return true;
}

void event_stream::start_from(std::int64_t seq, std::span<const std::uint8_t> payload) {
  if (start_over_) {
    start_over_ = false;
    h_.restarted();  // the loss the failed replay reported is forgotten
  }
  if (seq == 0) {
    if (deliver(seq, payload)) h_.synced();
    return;
  }
  held_.emplace_back(seq, std::vector<std::uint8_t>(payload.begin(), payload.end()));
  begin_replay(0);
}

void event_stream::on_live(std::int64_t seq, std::span<const std::uint8_t> payload) {
  if (replaying_) {
    held_.emplace_back(seq, std::vector<std::uint8_t>(payload.begin(), payload.end()));
    return;
  }
  if (!expected_) {
    if (can_replay_ || seq == 0) {
      start_from(seq, payload);
      return;
    }
    // Joined past 0 without a replay socket: earlier batches are unknown.
    deliver(seq, payload);
    h_.lost("joined at sequence " + std::to_string(seq) + " with no replay endpoint: earlier events unknown");
    return;
  }
  if (seq == *expected_) {
    deliver(seq, payload);
    return;
  }
  if (seq > *expected_) {
    ++gaps_;
    if (can_replay_) {
      held_.emplace_back(seq, std::vector<std::uint8_t>(payload.begin(), payload.end()));
      begin_replay(*expected_);
      return;
    }
    h_.lost("sequence gap: expected " + std::to_string(*expected_) + ", got " + std::to_string(seq) +
            " and no replay endpoint");
    deliver(seq, payload);
    return;
  }
  // The numbers went back: a new publisher (vLLM restarted, its cache empty).
  ++restarts_;
  h_.restarted();
  expected_.reset();
  applied_ = false;
  if (can_replay_ || seq == 0) {
    start_from(seq, payload);
    return;
  }
  deliver(seq, payload);
  h_.lost("the publisher restarted (sequence went back to " + std::to_string(seq) + ") and no replay endpoint");
}

void event_stream::on_reconnected() {
  if (!expected_ && !replaying_) return;  // nothing seen yet: nothing to forget
  ++restarts_;
  h_.restarted();
  start_over_ = false;
  applied_ = false;
  expected_.reset();
  held_.clear();
  replaying_ = false;
  if (can_replay_) {
    begin_replay(0);
    return;
  }
  h_.lost("reconnected to the publisher with no replay endpoint: events in between unknown");
}

void event_stream::on_replay(std::int64_t seq, std::span<const std::uint8_t> payload) {
  if (!replaying_ || !expected_ || seq < *expected_) return;  // late, or already applied
  // The replay buffer no longer has them: said before the batch past the hole is applied.
  if (seq > *expected_) report_hole("the replay buffer did not reach back to sequence " + std::to_string(*expected_));
  deliver(seq, payload);
}

void event_stream::flush_held() {
  auto held = std::move(held_);
  held_.clear();
  for (auto& [seq, payload] : held) {
    if (expected_ && seq < *expected_) continue;  // the replay brought it already
    // Before the batch past the hole is applied.
    if (expected_ && seq > *expected_) report_hole("sequence gap the replay did not fill");
    deliver(seq, payload);
  }
}

void event_stream::on_replay_end() {
  if (!replaying_) return;
  replaying_ = false;
  flush_held();  // a hole in what was held clears replay_complete_ too
  if (replay_complete_ && replay_from_ == 0) h_.synced();
}

void event_stream::on_replay_failed(std::string_view why) {
  if (!replaying_) return;
  replaying_ = false;
  report_hole(why);
  if (!applied_) {
    // Nothing applied since the stream started (or started over): the publisher was not up
    // yet, say, or its replay socket not connected yet. The next batch heard starts over with
    // another replay from 0; what was held meanwhile comes again in that replay.
    held_.clear();
    expected_.reset();
    start_over_ = true;
    return;
  }
  // Apply what was held, in order, without asking again.
  if (!held_.empty() && expected_ && held_.front().first > *expected_) expected_ = held_.front().first;
  flush_held();
}

}  // namespace planetserve::kvevents
