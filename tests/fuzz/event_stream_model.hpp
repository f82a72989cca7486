// SPDX-License-Identifier: MIT
// A model of one vLLM KV-events publisher, its restarts and the two ZeroMQ channels, driving a
// kvevents::event_stream with adversarial choices, and checking that the stream never calls an
// index exact that is not. Shared by kv_stream_fuzz (libFuzzer) and the unit tests (seeded).
#pragma once

#include <planetserve/kvevents/codec.hpp>
#include <planetserve/kvevents/event_stream.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace event_stream_model {

namespace kv = planetserve::kvevents;

/// One scenario. `next()` gives the choices (fuzzer bytes, or a seeded generator); run()
/// returns what went wrong, empty if nothing did.
///
/// The publisher numbers batches 0, 1, ... per life, keeps the last `buffer` for its replay
/// socket, and answers a replay request with what it holds from the asked number, then the
/// end marker. A batch's identity (its ts) is life * 1e6 + number, so a batch from another
/// life cannot pass for this one's.
///
/// What the network may do, in any order the choices pick: drop a live batch (high-water
/// mark), deliver or delay either channel (each in order), restart the publisher (old live
/// batches still on the way are read first; old answers on the way still arrive; requests not
/// yet answered are lost or reach the new life), reconnect (batches published before it are
/// lost: the slow joiner), and tell the stream of the reconnection at any later point, but
/// after the old connection's live batches were read (ZeroMQ's reconnect interval, 100 ms,
/// orders them). A replay times out only when no answer to it can come any more.
///
/// The property: whenever the stream's owner holds an exact index (synced, and neither lost
/// nor restarted since) and every reconnection has been told, the batches applied since the
/// last restart are the publisher's current life from number 0, in order, with no gap.
/// After the choices run out, everything is delivered and answered and one more batch is
/// published: no replay is left running, and an exact index holds the whole current life.
class scenario {
 public:
  explicit scenario(std::function<std::uint8_t()> next) : next_(std::move(next)) {}

  std::string run(std::size_t steps) {
    buffer_ = 1 + next_() % 16;
    kv::event_stream::handlers h;
    h.apply = [this](const kv::event_batch& b) {
      applied_.push_back(b.ts);
      check("apply");
    };
    h.synced = [this] {
      exact_ = true;
      check("synced");
    };
    h.lost = [this](std::string_view) { exact_ = false; };
    h.restarted = [this] {
      exact_ = false;
      applied_.clear();
    };
    h.request_replay = [this](std::int64_t from) { requests_.push_back(from); };
    h.malformed = [this](std::string_view) { failure_ = "a batch we encoded did not decode"; };
    stream_.emplace(std::move(h), true);
    stream_->start();
    for (std::size_t i = 0; i < steps && failure_.empty(); ++i) step(next_() % 10);
    drain();
    if (failure_.empty() && stream_->replaying()) failure_ = "a replay is still running after everything was answered";
    if (failure_.empty() && exact_ && applied_.size() != history_.size())
      failure_ = "exact after the drain but " + std::to_string(applied_.size()) + " of the life's " +
                 std::to_string(history_.size()) + " batches applied";
    return failure_;
  }

 private:
  struct frame {
    std::int64_t seq;
    double ts;
    bool old_life = false;  // live: sent before the publisher's last restart
  };

  double id(std::int64_t seq) const { return static_cast<double>(life_) * 1e6 + static_cast<double>(seq); }

  void publish() {
    const auto seq = static_cast<std::int64_t>(history_.size());
    history_.push_back(id(seq));
    if (connected_) live_.push_back({seq, id(seq)});
  }

  void answer_one() {
    if (!connected_ || requests_.empty()) return;
    const std::int64_t from = requests_.front();
    requests_.pop_front();
    const auto first = static_cast<std::int64_t>(history_.size() > buffer_ ? history_.size() - buffer_ : 0);
    for (auto seq = std::max(from, first); seq < static_cast<std::int64_t>(history_.size()); ++seq)
      answers_.push_back({seq, history_[static_cast<std::size_t>(seq)]});
    answers_.push_back({kv::end_of_replay, 0});
  }

  void deliver_live(bool drop) {
    if (live_.empty()) return;
    const frame f = live_.front();
    live_.pop_front();
    if (drop) return;
    kv::event_batch b;
    b.ts = f.ts;
    stream_->on_live(f.seq, kv::encode_batch(b));
  }

  void deliver_answer() {
    if (answers_.empty()) return;
    const frame f = answers_.front();
    answers_.pop_front();
    if (f.seq == kv::end_of_replay) {
      stream_->on_replay_end();
      return;
    }
    kv::event_batch b;
    b.ts = f.ts;
    stream_->on_replay(f.seq, kv::encode_batch(b));
  }

  void restart() {
    ++life_;
    history_.clear();
    connected_ = false;
    told_ = false;
    for (auto& f : live_) f.old_life = true;
    if (next_() % 2) requests_.clear();  // they went to the old life and died with it
  }

  void reconnect() {
    if (connected_) return;
    connected_ = true;
    told_ = false;
  }

  bool old_live_pending() const {
    for (const auto& f : live_)
      if (f.old_life) return true;
    return false;
  }

  void tell() {
    if (!connected_ || told_ || old_live_pending()) return;
    told_ = true;
    stream_->on_reconnected();
  }

  void time_out() {
    // Only a replay whose answer cannot come any more: nothing asked and nothing on the way.
    if (stream_->replaying() && requests_.empty() && answers_.empty()) stream_->on_replay_failed("timeout");
  }

  bool untold() const { return life_ > 0 && !(connected_ && told_); }

  void step(unsigned op) {
    switch (op) {
      case 0: case 1: publish(); break;
      case 2: deliver_live(false); break;
      case 3: deliver_live(next_() % 4 == 0); break;
      case 4: answer_one(); break;
      case 5: deliver_answer(); break;
      case 6: if (next_() % 4 == 0) restart(); break;
      case 7: reconnect(); break;
      case 8: tell(); break;
      default: time_out(); break;
    }
  }

  // Everything delivered and answered; then one more batch, which shows a lost last one.
  void drain() {
    reconnect();
    settle();
    publish();
    settle();
  }

  void settle() {
    for (int round = 0; round < 64 && failure_.empty(); ++round) {
      while (!live_.empty()) deliver_live(false);
      tell();
      while (!requests_.empty()) answer_one();
      while (!answers_.empty() && failure_.empty()) deliver_answer();
      time_out();
      if (live_.empty() && requests_.empty() && answers_.empty() && !stream_->replaying()) break;
    }
  }

  void check(const char* where) {
    if (!exact_ || untold() || !failure_.empty()) return;
    bool prefix = applied_.size() <= history_.size();
    for (std::size_t i = 0; prefix && i < applied_.size(); ++i) prefix = applied_[i] == history_[i];
    if (!prefix) {
      failure_ = std::string("exact at ") + where + " but the applied batches are not life " + std::to_string(life_) +
                 " from 0: applied";
      for (double t : applied_) failure_ += " " + std::to_string(static_cast<long long>(t));
      failure_ += "; published";
      for (double t : history_) failure_ += " " + std::to_string(static_cast<long long>(t));
    }
  }

  std::function<std::uint8_t()> next_;
  std::optional<kv::event_stream> stream_;
  std::size_t buffer_ = 16;
  int life_ = 0;
  std::vector<double> history_;  // the current life's batches, by number
  bool connected_ = true, told_ = true;
  std::deque<frame> live_, answers_;
  std::deque<std::int64_t> requests_;
  std::vector<double> applied_;  // since the last restart
  bool exact_ = false;
  std::string failure_;
};

}  // namespace event_stream_model
