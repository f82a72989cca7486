// SPDX-License-Identifier: MIT
// A model of one vLLM KV-events publisher, its restarts and the two ZeroMQ channels, driving a
// kvevents::event_stream with adversarial choices, and checking that the stream never calls an
// index exact that is not, and that a restart always makes it exact again. Shared by
// kv_stream_fuzz (libFuzzer) and the unit tests (seeded).
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
/// The publisher (vLLM's ZmqEventPublisher) numbers batches 0, 1, ... per life, keeps the last
/// `buffer` for its replay socket, and answers a replay request with what it holds from the
/// asked number, then the end marker. A batch's identity (its ts) is life * 1e6 + number, so
/// a batch from another life cannot pass for this one's.
///
/// The subscriber's shell is modelled as kv_event_subscriber behaves: a request made while an
/// earlier one's end has not come, and a replay that times out, reopen the replay socket, so
/// nothing still asked or on the way on the old one arrives.
///
/// What may happen, in any order the choices pick: a live batch dropped (high-water mark), a
/// replay frame dropped (the replay socket's own high-water mark), either channel delayed
/// (each in order), a timeout of the running replay at any moment, the publisher restarting
/// (requests not yet answered are lost or reach the new life), a network break with the same
/// life (requests and answers on the way lost or not), the server down when the subscriber
/// starts, a reconnection (batches published while disconnected are lost: the slow joiner), and
/// the stream told of it at any later point, but after the old connection's live batches were
/// read. That last order is an assumption: ZeroMQ reconnects after 100 ms at the earliest, and
/// the subscriber reads its sockets as soon as they are readable.
///
/// The owner is modelled as precise_policy: synced makes an unknown index exact, lost makes it
/// lost until a restart, restarted forgets it (unknown). The properties:
/// - safe: whenever the index is exact and every reconnection has been told, the batches
///   applied since the last restart are the publisher's current life from number 0, in order;
/// - live: after the choices run out, everything is delivered, one more batch shows a lost last
///   one, and then the publisher restarts once more: after that the index is exact and holds
///   the whole new life. However the scenario went, a server restart recovers the node.
class scenario {
 public:
  explicit scenario(std::function<std::uint8_t()> next) : next_(std::move(next)) {}

  std::string run(std::size_t steps) {
    buffer_ = 1 + next_() % 16;
    if (next_() % 4 == 0) connected_ = ever_connected_ = false;  // the server is not up yet
    kv::event_stream::handlers h;
    h.apply = [this](const kv::event_batch& b) {
      applied_.push_back(b.ts);
      check("apply");
    };
    h.synced = [this] {
      if (trust_ == trust::unknown) trust_ = trust::exact;
      check("synced");
    };
    h.lost = [this](std::string_view) { trust_ = trust::lost; };
    h.restarted = [this] {
      trust_ = trust::unknown;
      applied_.clear();
    };
    h.request_replay = [this](std::int64_t from) {
      if (pending_reply_) reopen();
      pending_reply_ = true;
      requests_.push_back(from);
    };
    h.malformed = [this](std::string_view) { failure_ = "a batch we encoded did not decode"; };
    stream_.emplace(std::move(h), true);
    stream_->start();
    for (std::size_t i = 0; i < steps && failure_.empty(); ++i) step(next_() % 12);
    drain();
    if (failure_.empty() && stream_->replaying()) failure_ = "a replay is still running after everything was answered";
    if (failure_.empty() && trust_ == trust::exact && applied_.size() != history_.size())
      failure_ = "exact after the drain but " + std::to_string(applied_.size()) + " of the life's " +
                 std::to_string(history_.size()) + " batches applied";
    if (failure_.empty()) recovery_probe();
    return failure_;
  }

 private:
  enum class trust { unknown, exact, lost };

  struct frame {
    std::int64_t seq;
    double ts;
    bool old_connection = false;  // live: sent over a connection that has since broken
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

  void deliver_answer(bool drop) {
    if (answers_.empty()) return;
    const frame f = answers_.front();
    answers_.pop_front();
    if (drop) return;
    if (f.seq == kv::end_of_replay) {
      pending_reply_ = false;
      stream_->on_replay_end();
      return;
    }
    kv::event_batch b;
    b.ts = f.ts;
    stream_->on_replay(f.seq, kv::encode_batch(b));
  }

  // A new replay socket: what was asked or sent on the old one never arrives.
  void reopen() {
    requests_.clear();
    answers_.clear();
    pending_reply_ = false;
  }

  void disconnect() {
    if (!connected_) return;
    connected_ = false;
    told_ = false;
    for (auto& f : live_) f.old_connection = true;
  }

  void restart() {
    ++life_;
    history_.clear();
    disconnect();
    if (next_() % 2) requests_.clear();  // they went to the old life and died with it
  }

  void blip() {  // the same life, a broken connection
    disconnect();
    if (next_() % 2) requests_.clear();
    if (next_() % 2) answers_.clear();
  }

  void reconnect() {
    if (connected_) return;
    connected_ = true;
    if (!ever_connected_) told_ = true;  // a first connection is no reconnection: nothing to tell
    ever_connected_ = true;
  }

  bool old_live_pending() const {
    for (const auto& f : live_)
      if (f.old_connection) return true;
    return false;
  }

  void tell() {
    if (!connected_ || told_ || old_live_pending()) return;
    told_ = true;
    stream_->on_reconnected();
  }

  void time_out() {
    if (!stream_->replaying()) return;
    reopen();
    stream_->on_replay_failed("timeout");
  }

  bool untold() const { return !(connected_ && told_); }

  void step(unsigned op) {
    switch (op) {
      case 0: case 1: publish(); break;
      case 2: deliver_live(false); break;
      case 3: deliver_live(next_() % 4 == 0); break;
      case 4: answer_one(); break;
      case 5: deliver_answer(false); break;
      case 6: deliver_answer(next_() % 8 == 0); break;
      case 7: if (next_() % 4 == 0) restart(); else if (next_() % 4 == 0) blip(); break;
      case 8: reconnect(); break;
      case 9: tell(); break;
      case 10: if (next_() % 4 == 0) time_out(); break;
      default: publish(); deliver_live(false); break;
    }
  }

  // Everything delivered and answered; a replay whose answer cannot come times out.
  void settle() {
    for (int round = 0; round < 64 && failure_.empty(); ++round) {
      while (!live_.empty()) deliver_live(false);
      tell();
      while (!requests_.empty()) answer_one();
      while (!answers_.empty() && failure_.empty()) deliver_answer(false);
      if (requests_.empty() && answers_.empty()) time_out();
      if (live_.empty() && requests_.empty() && answers_.empty() && !stream_->replaying()) break;
    }
  }

  void drain() {
    reconnect();
    settle();
    publish();  // shows a lost last batch
    settle();
  }

  void recovery_probe() {
    restart();
    reconnect();
    settle();
    for (int i = 0; i < 3; ++i) publish();
    settle();
    if (!failure_.empty()) return;
    if (trust_ != trust::exact) {
      failure_ = std::string("a restart did not make the index exact again (it is ") +
                 (trust_ == trust::lost ? "lost" : "unknown") + ")";
      return;
    }
    if (applied_ != history_) failure_ = "exact after the restart but not the new life's batches";
  }

  void check(const char* where) {
    if (trust_ != trust::exact || untold() || !failure_.empty()) return;
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
  bool connected_ = true, told_ = true, ever_connected_ = true;
  bool pending_reply_ = false;   // a request was made and its end has not been delivered
  std::deque<frame> live_, answers_;
  std::deque<std::int64_t> requests_;
  std::vector<double> applied_;  // since the last restart
  trust trust_ = trust::unknown;
  std::string failure_;
};

}  // namespace event_stream_model
