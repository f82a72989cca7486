// SPDX-License-Identifier: MIT
// Compiled body of experiment::kv_event_subscriber (ZeroMQ; compiled only in src/kvevents_zmq.cpp).
#pragma once

#include <planetserve/detail/rethrow.hpp>
#include <planetserve/detail/sanitize.hpp>
#include <planetserve/detail/zmq_socket.hpp>
#include <planetserve/experiment/kv_event_subscriber.hpp>
#include <planetserve/kvevents/codec.hpp>
#include <planetserve/kvevents/event_stream.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstring>
#include <optional>
#include <stdexcept>

namespace planetserve::experiment {

struct kv_event_subscriber::impl : std::enable_shared_from_this<impl> {
  struct node {
    node(boost::asio::any_io_executor ex) : sub(ex, ZMQ_SUB), monitor(ex, ZMQ_PAIR), timer(ex) {}
    detail::zmq_socket sub;
    // The replay socket; replaced (a new identity) to drop the answer to an earlier request,
    // and shared with the coroutine reading it, which ends when it is replaced.
    std::shared_ptr<detail::zmq_socket> replay;
    bool replay_pending = false;      // a request was sent and its end marker has not come
    std::uint64_t deadline_gen = 0;   // bumped at every arm and disarm: an expired wait that ran late is stale
    detail::zmq_socket monitor;       // the SUB socket's connect/disconnect events
    bool disconnected = false;
    boost::asio::steady_timer timer;  // the running replay's deadline
    std::optional<kvevents::event_stream> stream;
    kv_subscription_stats stats;
    bool warned = false;
  };

  impl(boost::asio::any_io_executor e, std::vector<kv_events_source> s, dispatch::kv_event_sink& k,
       std::vector<std::string> n, std::ostream& l, std::chrono::milliseconds t)
      : ex(std::move(e)), sources(std::move(s)), sink(k), names(std::move(n)), log(l), replay_timeout(t) {
    nodes.reserve(sources.size());
    for (std::size_t i = 0; i < sources.size(); ++i) nodes.push_back(std::make_unique<node>(ex));
  }

  std::string name(std::size_t i) const { return i < names.size() ? names[i] : "node " + std::to_string(i); }

  void lost(std::size_t i, std::string_view why) {
    auto& nd = *nodes[i];
    ++nd.stats.lost;
    sink.on_kv_lost(static_cast<dispatch::node_index>(i), why);
    if (nd.warned) return;
    nd.warned = true;
    log << "pswm: " << name(i) << ": KV events: " << detail::sanitized(why)
        << "; its cache is judged by lb's model until it is cleared (decisions: precise-fallback)\n";
  }

  // A fresh replay socket: what the replay endpoint still sends to the old one is dropped (its
  // ROUTER has no peer of that identity any more), so an answer never reaches the stream for
  // a request other than the latest (the event_stream's contract). The DEALER keeps the
  // routing id ZeroMQ gives each connection: a fixed ZMQ_ROUTING_ID would defeat this.
  bool open_replay(std::size_t i) {
    auto& nd = *nodes[i];
    if (nd.replay) nd.replay->close();  // its reader wakes with operation_aborted and ends
    nd.replay_pending = false;
    nd.replay = std::make_shared<detail::zmq_socket>(ex, ZMQ_DEALER);
    if (auto e = nd.replay->connect(sources[i].replay_endpoint); !e.empty()) {
      lost(i, "cannot connect to the replay endpoint " + sources[i].replay_endpoint + ": " + e);
      return false;
    }
    boost::asio::co_spawn(ex, read_replay(shared_from_this(), i, nd.replay), planetserve::detail::rethrow_exception{});
    return true;
  }

  void request_replay(std::size_t i, std::int64_t from) {
    auto& nd = *nodes[i];
    // Asked again before the last answer ended (a gap's replay overtaken by a reconnection):
    // that answer must not be taken for this one's.
    const bool reopened = !nd.replay_pending || open_replay(i);
    const auto seq = kvevents::encode_sequence(from);
    const std::span<const std::uint8_t> empty;
    nd.replay_pending = true;
    if (!reopened || !nd.replay->send({empty, seq})) {
      nd.replay_pending = false;
      disarm_replay_deadline(i);
      // Posted: the stream is still inside the call that asked.
      boost::asio::post(ex, [self = shared_from_this(), i] {
        if (!self->stopped) self->nodes[i]->stream->on_replay_failed("the replay request could not be sent");
      });
      return;
    }
    arm_replay_deadline(i, false);
  }

  // The running replay fails with `why` unless something arrives within replay_timeout; a
  // late answer then goes to a replaced socket.
  // A wait that had already expired when it was re-armed or cancelled still runs, with
  // success: the generation tells it that it is stale.
  // `answering`: frames came, then stopped (the message says which).
  void arm_replay_deadline(std::size_t i, bool answering) {
    auto& nd = *nodes[i];
    const auto gen = ++nd.deadline_gen;
    nd.timer.expires_after(replay_timeout);
    nd.timer.async_wait([w = weak_from_this(), i, gen, answering](boost::system::error_code ec) {
      auto self = w.lock();
      if (ec || !self || self->stopped || self->nodes[i]->deadline_gen != gen) return;
      (void)self->open_replay(i);
      self->nodes[i]->stream->on_replay_failed(
          answering ? std::string("the replay stopped answering")
                    : "the replay endpoint " + self->sources[i].replay_endpoint + " did not answer in time");
    });
  }

  void disarm_replay_deadline(std::size_t i) {
    auto& nd = *nodes[i];
    ++nd.deadline_gen;
    nd.timer.cancel();
  }

  void make_stream(std::size_t i) {
    const bool can_replay = !sources[i].replay_endpoint.empty();
    const auto k = static_cast<dispatch::node_index>(i);
    kvevents::event_stream::handlers h;
    h.apply = [this, i, k](const kvevents::event_batch& b) {
      ++nodes[i]->stats.batches;
      sink.on_kv_batch(k, b);
    };
    h.synced = [this, i, k] {
      nodes[i]->stats.synced = true;
      sink.on_kv_synced(k);
    };
    h.lost = [this, i](std::string_view why) { lost(i, why); };
    h.restarted = [this, k] { sink.on_kv_restarted(k); };
    h.request_replay = [this, i](std::int64_t from) { request_replay(i, from); };
    h.malformed = [this, i](std::string_view why) {
      ++nodes[i]->stats.malformed;
      lost(i, why);
    };
    nodes[i]->stream.emplace(std::move(h), can_replay);
  }

  static boost::asio::awaitable<void> read_live(std::shared_ptr<impl> self, std::size_t i) {
    auto& nd = *self->nodes[i];
    std::vector<std::vector<std::uint8_t>> frames;
    while (!self->stopped) {
      while (!self->stopped && nd.sub.recv(frames)) {
        const auto seq = frames.size() == 3 ? kvevents::decode_sequence(frames[1]) : std::nullopt;
        if (!seq) {
          ++nd.stats.malformed;
          self->lost(i, "a message that is not (topic, 8-byte sequence, payload)");
          continue;
        }
        nd.stream->on_live(*seq, frames[2]);
        nd.stats.gaps = nd.stream->gaps();
        nd.stats.restarts = nd.stream->restarts();
      }
      if (self->stopped) break;
      if (auto ec = co_await nd.sub.async_readable(); ec) break;
    }
  }

  // A SUB socket reconnects by itself; the stream must hear of it (a restarted server's first
  // numbers can look in order).
  static boost::asio::awaitable<void> read_monitor(std::shared_ptr<impl> self, std::size_t i) {
    auto& nd = *self->nodes[i];
    std::vector<std::vector<std::uint8_t>> frames;
    while (!self->stopped) {
      while (!self->stopped && nd.monitor.recv(frames)) {
        if (frames.empty() || frames[0].size() < 2) continue;
        // First frame: the event id (16 bits, host order), then a 32-bit value.
        std::uint16_t event = 0;
        std::memcpy(&event, frames[0].data(), sizeof event);
        if (event == ZMQ_EVENT_DISCONNECTED) {
          nd.disconnected = true;
        } else if (event == ZMQ_EVENT_CONNECTED && nd.disconnected) {
          nd.disconnected = false;
          nd.stream->on_reconnected();
          nd.stats.restarts = nd.stream->restarts();
        }
      }
      if (self->stopped) break;
      if (auto ec = co_await nd.monitor.async_readable(); ec) break;
    }
  }

  static boost::asio::awaitable<void> read_replay(std::shared_ptr<impl> self, std::size_t i,
                                                  std::shared_ptr<detail::zmq_socket> sock) {
    auto& nd = *self->nodes[i];
    std::vector<std::vector<std::uint8_t>> frames;
    auto current = [&] { return !self->stopped && nd.replay == sock; };
    while (current()) {
      while (current() && sock->recv(frames)) {
        // A DEALER sees the ROUTER's reply without the identity: (empty, seq, payload).
        const auto seq = frames.size() == 3 && frames[0].empty() ? kvevents::decode_sequence(frames[1]) : std::nullopt;
        if (!seq) {
          ++nd.stats.malformed;
          continue;
        }
        if (*seq == kvevents::end_of_replay) {
          nd.replay_pending = false;
          self->disarm_replay_deadline(i);
          nd.stream->on_replay_end();
        } else {
          self->arm_replay_deadline(i, true);  // still answering: a fresh deadline
          nd.stream->on_replay(*seq, frames[2]);
        }
      }
      if (!current()) break;
      if (auto ec = co_await sock->async_readable(); ec) break;
    }
  }

  void start() {
    for (std::size_t i = 0; i < sources.size(); ++i) {
      auto& nd = *nodes[i];
      make_stream(i);
      const auto& src = sources[i];
      nd.sub.set(ZMQ_SUBSCRIBE, src.topic.data(), src.topic.size());
      if (auto e = nd.sub.connect(src.endpoint); !e.empty()) {
        lost(i, "cannot connect to " + src.endpoint + ": " + e);
        continue;
      }
      if (!src.replay_endpoint.empty() && !open_replay(i)) continue;
      boost::asio::co_spawn(ex, read_live(shared_from_this(), i), planetserve::detail::rethrow_exception{});
      const std::string mon = "inproc://pswm-kv-monitor-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) +
                              "-" + std::to_string(i);
      if (nd.sub.monitor(mon, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED).empty() && nd.monitor.connect(mon).empty())
        boost::asio::co_spawn(ex, read_monitor(shared_from_this(), i), planetserve::detail::rethrow_exception{});
      nd.stream->start();
    }
  }

  void stop() noexcept {
    if (stopped) return;
    stopped = true;
    for (auto& nd : nodes) {
      nd->timer.cancel();
      nd->sub.cancel();
      if (nd->replay) nd->replay->cancel();
      nd->monitor.cancel();
    }
  }

  boost::asio::any_io_executor ex;
  std::vector<kv_events_source> sources;
  dispatch::kv_event_sink& sink;
  std::vector<std::string> names;
  std::ostream& log;
  std::chrono::milliseconds replay_timeout;
  std::vector<std::unique_ptr<node>> nodes;
  bool stopped = false;
};

kv_event_subscriber::kv_event_subscriber(boost::asio::any_io_executor ex, std::vector<kv_events_source> sources,
                                         dispatch::kv_event_sink& sink, std::vector<std::string> names,
                                         std::ostream& log, std::chrono::milliseconds replay_timeout)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(sources), sink, std::move(names), log, replay_timeout)) {}

kv_event_subscriber::~kv_event_subscriber() { stop(); }

void kv_event_subscriber::start() { impl_->start(); }
void kv_event_subscriber::stop() noexcept { impl_->stop(); }

const kv_subscription_stats& kv_event_subscriber::stats(std::size_t node) const {
  return impl_->nodes.at(node)->stats;
}

}  // namespace planetserve::experiment
