// SPDX-License-Identifier: MIT
// Compiled body of sim::kv_event_publisher (ZeroMQ; compiled only in src/kvevents_zmq.cpp).
#pragma once

#include <planetserve/detail/rethrow.hpp>
#include <planetserve/detail/zmq_socket.hpp>
#include <planetserve/kvevents/codec.hpp>
#include <planetserve/sim/kv_event_publisher.hpp>

#include <boost/asio/co_spawn.hpp>

#include <deque>
#include <utility>
#include <vector>

namespace planetserve::sim {

struct kv_event_publisher::impl {
  impl(boost::asio::any_io_executor e, kv_events_config c)
      : ex(std::move(e)), cfg(std::move(c)), pub(ex, ZMQ_PUB), replay(ex, ZMQ_ROUTER) {}

  boost::asio::any_io_executor ex;
  kv_events_config cfg;
  detail::zmq_socket pub;
  detail::zmq_socket replay;
  std::string bound, replay_bound;
  std::int64_t next_seq = 0;
  std::size_t drop = 0;
  bool stopped = false;
  std::deque<std::pair<std::int64_t, std::vector<std::uint8_t>>> buffer;

  std::span<const std::uint8_t> topic() const {
    return {reinterpret_cast<const std::uint8_t*>(cfg.topic.data()), cfg.topic.size()};
  }

  void serve_one(const std::vector<std::vector<std::uint8_t>>& frames) {
    // [client identity, empty delimiter, start sequence]: what a REQ or DEALER client sends.
    if (frames.size() != 3 || !frames[1].empty()) return;
    const auto start = kvevents::decode_sequence(frames[2]);
    if (!start) return;
    const std::span<const std::uint8_t> id(frames[0]), empty;
    for (const auto& [seq, payload] : buffer) {
      if (seq < *start) continue;
      const auto s = kvevents::encode_sequence(seq);
      replay.send({id, empty, s, payload});
    }
    const auto end = kvevents::encode_sequence(kvevents::end_of_replay);
    replay.send({id, empty, end, empty});
  }

  static boost::asio::awaitable<void> serve_replays(std::shared_ptr<impl> p) {
    std::vector<std::vector<std::uint8_t>> frames;
    while (!p->stopped) {
      while (!p->stopped && p->replay.recv(frames)) p->serve_one(frames);
      if (p->stopped) break;
      if (auto ec = co_await p->replay.async_readable(); ec) break;
    }
  }
};


kv_event_publisher::kv_event_publisher(boost::asio::any_io_executor ex, kv_events_config config)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(config))) {}

kv_event_publisher::~kv_event_publisher() { stop(); }

boost::system::error_code kv_event_publisher::bind(diagnostics& diag) {
  auto& p = *impl_;
  const int hwm = static_cast<int>(std::min<std::size_t>(p.cfg.hwm, 0x7fffffff));
  p.pub.set(ZMQ_SNDHWM, &hwm, sizeof hwm);
  if (auto e = p.pub.bind(p.cfg.endpoint); !e.empty()) {
    diag.message = "KV events: cannot bind " + p.cfg.endpoint + ": " + e;
    return error::invalid_argument;
  }
  p.bound = p.pub.last_endpoint();
  if (!p.cfg.replay_endpoint.empty()) {
    if (auto e = p.replay.bind(p.cfg.replay_endpoint); !e.empty()) {
      diag.message = "KV events: cannot bind the replay endpoint " + p.cfg.replay_endpoint + ": " + e;
      return error::invalid_argument;
    }
    p.replay_bound = p.replay.last_endpoint();
    boost::asio::co_spawn(p.ex, impl::serve_replays(impl_), planetserve::detail::rethrow_exception{});
  }
  return {};
}

std::string kv_event_publisher::endpoint() const { return impl_->bound; }
std::string kv_event_publisher::replay_endpoint() const { return impl_->replay_bound; }
std::int64_t kv_event_publisher::next_sequence() const noexcept { return impl_->next_seq; }
void kv_event_publisher::drop_next(std::size_t n) noexcept { impl_->drop = n; }

void kv_event_publisher::publish(const kvevents::event_batch& batch) {
  auto& p = *impl_;
  if (p.stopped) return;
  const std::int64_t seq = p.next_seq++;
  auto payload = kvevents::encode_batch(batch);
  const auto s = kvevents::encode_sequence(seq);
  if (p.drop > 0) --p.drop;
  else p.pub.send({p.topic(), s, payload});
  if (p.cfg.buffer_steps == 0) return;
  if (p.buffer.size() == p.cfg.buffer_steps) p.buffer.pop_front();
  p.buffer.emplace_back(seq, std::move(payload));
}

void kv_event_publisher::stop() noexcept {
  auto& p = *impl_;
  if (p.stopped) return;
  p.stopped = true;
  p.replay.cancel();
  p.pub.close();
  p.replay.close();
}

}  // namespace planetserve::sim
