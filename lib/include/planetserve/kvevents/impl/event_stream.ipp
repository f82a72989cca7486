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
  ++replays_asked_;
  replaying_ = true;
  replay_complete_ = true;
  replay_from_ = from;
  if (!expected_) expected_ = from;
  h_.request_replay(from);
}

void event_stream::deliver(std::int64_t seq, std::span<const std::uint8_t> payload) {
  expected_ = seq + 1;
  diagnostics d;
  auto b = decode_batch(payload, d);
  if (!b) {
    ++malformed_;
    h_.malformed(d.message);
    return;
  }
  h_.apply(*b);
}

void event_stream::on_live(std::int64_t seq, std::span<const std::uint8_t> payload) {
  if (replaying_) {
    held_.emplace_back(seq, std::vector<std::uint8_t>(payload.begin(), payload.end()));
    return;
  }
  if (!expected_) {
    // Joined without a replay socket: only a stream seen from 0 is complete.
    deliver(seq, payload);
    if (seq == 0) h_.synced();
    else h_.lost("joined at sequence " + std::to_string(seq) + " with no replay endpoint: earlier events unknown");
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
  if (seq == 0) {
    expected_ = 0;
    deliver(seq, payload);
    h_.synced();
    return;
  }
  if (can_replay_) {
    held_.emplace_back(seq, std::vector<std::uint8_t>(payload.begin(), payload.end()));
    begin_replay(0);
    return;
  }
  deliver(seq, payload);
  h_.lost("the publisher restarted (sequence went back to " + std::to_string(seq) + ") and no replay endpoint");
}

void event_stream::on_reconnected() {
  if (!expected_ && !replaying_) return;  // nothing seen yet: nothing to forget
  ++restarts_;
  h_.restarted();
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
  if (replays_asked_ > 1) return;  // the answer to a replay asked before the running one: superseded
  if (!replaying_ || !expected_ || seq < *expected_) return;  // late, or already applied
  if (seq > *expected_ && replay_complete_) {
    // The replay buffer no longer has them: said before the batch past the hole is applied.
    replay_complete_ = false;
    h_.lost("the replay buffer did not reach back to sequence " + std::to_string(*expected_));
  }
  deliver(seq, payload);
}

bool event_stream::flush_held() {
  auto held = std::move(held_);
  held_.clear();
  bool complete = true;
  for (auto& [seq, payload] : held) {
    if (expected_ && seq < *expected_) continue;  // the replay brought it already
    if (expected_ && seq > *expected_ && complete) {
      complete = false;
      h_.lost("sequence gap the replay did not fill");  // before the batch past the hole is applied
    }
    deliver(seq, payload);
  }
  return complete;
}

void event_stream::on_replay_end() {
  if (replays_asked_ > 0) --replays_asked_;
  if (replays_asked_ > 0) return;  // a superseded replay's end: the running one is still to come
  if (!replaying_) return;
  replaying_ = false;
  const bool complete = replay_complete_;  // a hole was reported as it showed
  const bool no_holes = flush_held();
  if (complete && no_holes && replay_from_ == 0) h_.synced();
}

void event_stream::on_replay_failed(std::string_view why) {
  replays_asked_ = 0;  // whatever they were, no answer is awaited any more
  if (!replaying_) return;
  replaying_ = false;
  h_.lost(why);
  // Apply what was held, in order, without asking again.
  if (!held_.empty() && expected_ && held_.front().first > *expected_) expected_ = held_.front().first;
  (void)flush_held();
}

}  // namespace planetserve::kvevents
