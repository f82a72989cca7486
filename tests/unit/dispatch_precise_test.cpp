// SPDX-License-Identifier: MIT
// Tests for the precise policy and its ZeroMQ path: emulator publisher -> subscriber -> policy.
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/dispatch/precise_policy.hpp>
#include <planetserve/experiment/kv_event_subscriber.hpp>
#include <planetserve/kvevents/codec.hpp>
#include <planetserve/sim/kv_event_publisher.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "kvevents_test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

using namespace planetserve;
using dispatch::node_index;
using tokenize::token_id;
using kvevents_test::iota_tokens;

namespace {

kvevents::event_batch stored(std::vector<kvevents::block_hash> names, std::optional<kvevents::block_hash> parent,
                             std::vector<token_id> tokens) {
  kvevents::event_batch b;
  b.events.emplace_back(kvevents::block_stored{std::move(names), parent, std::move(tokens), 16, std::nullopt, {}});
  return b;
}

// Records what the subscriber hands over.
struct recording_sink : dispatch::kv_event_sink {
  std::vector<std::pair<node_index, double>> batches;
  std::vector<double> since_restart;  // the batches' ts applied since the last restart
  int synced = 0, lost = 0, restarted = 0;
  bool exact = false;  // synced since the last restart or loss
  dispatch::kv_event_sink* also = nullptr;  // a policy that sees the same calls
  void on_kv_batch(node_index n, const kvevents::event_batch& b) override {
    batches.emplace_back(n, b.ts);
    since_restart.push_back(b.ts);
    if (also) also->on_kv_batch(n, b);
  }
  void on_kv_synced(node_index n) override {
    ++synced;
    exact = true;
    if (also) also->on_kv_synced(n);
  }
  void on_kv_lost(node_index n, std::string_view why) override {
    ++lost;
    exact = false;
    if (also) also->on_kv_lost(n, why);
  }
  void on_kv_restarted(node_index n) override {
    ++restarted;
    exact = false;
    since_restart.clear();
    if (also) also->on_kv_restarted(n);
  }
};

// Runs `io` until `done()` or a generous bound (a hang fails rather than blocks the suite).
template <class F>
void run_until(boost::asio::io_context& io, F done, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  const auto limit = std::chrono::steady_clock::now() + bound;
  while (!done() && std::chrono::steady_clock::now() < limit) io.run_for(std::chrono::milliseconds(5));
}

// A publisher bound on `endpoint` and `replay` ("tcp://127.0.0.1:*" for free ports; the
// ports of a stopped one for a restarted server), or null. ZeroMQ closes listeners on its own
// I/O thread: a port frees a moment after stop(), so binding is retried a while.
std::unique_ptr<sim::kv_event_publisher> bound_publisher(boost::asio::io_context& io, const std::string& endpoint,
                                                    const std::string& replay) {
  sim::kv_events_config pc;
  pc.endpoint = endpoint;
  pc.replay_endpoint = replay;
  for (int tries = 0; tries < 100; ++tries) {
    auto p = std::make_unique<sim::kv_event_publisher>(io.get_executor(), pc);
    diagnostics d;
    if (!p->bind(d)) return p;
    io.run_for(std::chrono::milliseconds(20));
  }
  return nullptr;
}

}  // namespace

TEST_CASE("precise policy: routes on the events' blocks, falls back where they are not exact", "[dispatch][precise]") {
  dispatch::policy_config c;
  c.nodes = 3;
  auto made = dispatch::make_policy("precise", c);
  REQUIRE(made);
  auto& p = dynamic_cast<dispatch::precise_policy&>(*made);
  const auto prompt = iota_tokens(70, 1);  // 4 full blocks; vLLM can hit at most (70 - 1) / 16 = 4
  dispatch::request_view req{prompt, 1, 0};

  // Nothing synced: every node is judged by lb's model.
  auto d = p.choose(req);
  CHECK(dispatch::rule_name(d) == "precise-fallback");

  for (node_index n = 0; n < 3; ++n) p.on_kv_synced(n);
  // Node 2 holds the prompt's first three blocks, node 1 its first one.
  p.on_kv_batch(2, stored({11, 12, 13}, std::nullopt, iota_tokens(48, 1)));
  p.on_kv_batch(1, stored({21}, std::nullopt, iota_tokens(16, 1)));
  d = p.choose(req);
  CHECK(d.node == 2);
  CHECK(dispatch::rule_name(d) == "precise-match");
  CHECK(d.match_blocks[0] == 0);
  CHECK(d.match_blocks[1] == 1);
  CHECK(d.match_blocks[2] == 3);
  CHECK(p.predicted_cached_tokens(d, prompt.size()) == std::optional<std::uint32_t>(48));

  // Sent to node 0 (the caller's choice): until it finishes, node 0 is known to get all 4 blocks.
  p.on_dispatched(0, req);
  d = p.choose(dispatch::request_view{prompt, 2, 0});
  CHECK(d.match_blocks[0] == 4);
  dispatch::outcome o;
  o.request_id = 1;
  p.on_finished(0, o);
  d = p.choose(dispatch::request_view{prompt, 3, 0});
  CHECK(d.match_blocks[0] == 0);  // no events said node 0 stored them

  // A lost stream falls back until the node's cache is cleared.
  p.on_kv_lost(2, "gap");
  CHECK(p.trust(2) == dispatch::kv_trust::lost);
  d = p.choose(dispatch::request_view{prompt, 4, 0});
  CHECK(dispatch::rule_name(d) == "precise-fallback");
  kvevents::event_batch cleared;
  cleared.events.emplace_back(kvevents::all_blocks_cleared{});
  p.on_kv_batch(2, cleared);
  CHECK(p.trust(2) == dispatch::kv_trust::exact);
  CHECK(p.index(2).size() == 0);
  // A restart forgets the node's blocks and waits for a sync.
  p.on_kv_restarted(1);
  CHECK(p.index(1).size() == 0);
  CHECK(p.trust(1) == dispatch::kv_trust::unknown);
  // Another block size than the index's makes the node's index unusable.
  p.on_kv_synced(1);
  kvevents::event_batch other;
  other.events.emplace_back(kvevents::block_stored{{5}, std::nullopt, iota_tokens(32, 1), 32, std::nullopt, {}});
  p.on_kv_batch(1, other);
  CHECK(p.trust(1) == dispatch::kv_trust::lost);
  CHECK(p.counters().bad_block_size == 1);
}

TEST_CASE("kv events over ZeroMQ: a dropped batch is replayed, order kept", "[kvevents][zmq]") {
  boost::asio::io_context io;
  auto bound = bound_publisher(io, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
  REQUIRE(bound);
  auto& pub = *bound;
  REQUIRE(pub.endpoint().starts_with("tcp://127.0.0.1:"));

  auto batch = [](double ts) {
    kvevents::event_batch b;
    b.ts = ts;
    b.events.emplace_back(kvevents::all_blocks_cleared{});
    return b;
  };
  // Published before anyone listens: only the replay can bring these.
  pub.publish(batch(0));
  pub.publish(batch(1));

  recording_sink sink;
  std::ostringstream log;
  experiment::kv_event_subscriber sub(io.get_executor(), {{pub.endpoint(), pub.replay_endpoint(), {}}}, sink, {"n0"},
                                      log);
  sub.start();
  run_until(io, [&] { return sink.synced == 1; });
  REQUIRE(sink.synced == 1);
  CHECK(sink.batches.size() == 2);

  // The subscription is established once the replay answered; now lose one batch on the wire.
  // PUB delivers only to connected peers: publish until the live path shows, then drop one.
  for (int tries = 0; tries < 200 && sink.batches.size() < 3; ++tries) {
    pub.publish(batch(2 + tries));
    run_until(io, [&] { return sink.batches.size() >= 3; }, std::chrono::milliseconds(50));
  }
  REQUIRE(sink.batches.size() >= 3);
  const auto before = sink.batches.size();
  const auto gaps_before = sub.stats(0).gaps;  // the live path's first batches may have shown a gap too
  const double next = static_cast<double>(pub.next_sequence());
  pub.drop_next(1);
  pub.publish(batch(next));      // lost on the wire
  pub.publish(batch(next + 1));  // reveals the gap
  run_until(io, [&] { return sink.batches.size() >= before + 2; });
  REQUIRE(sink.batches.size() == before + 2);
  CHECK(sink.batches[before].second == next);
  CHECK(sink.batches[before + 1].second == next + 1);
  CHECK(sink.lost == 0);
  CHECK(sub.stats(0).gaps == gaps_before + 1);
  sub.stop();
  pub.stop();
  io.run_for(std::chrono::milliseconds(20));
}

TEST_CASE("kv events over ZeroMQ: a replay endpoint that never answers is logged once", "[kvevents][zmq]") {
  boost::asio::io_context io;
  recording_sink sink;
  std::ostringstream log;
  // Nobody listens on these: ZeroMQ keeps trying to connect, the replay times out.
  experiment::kv_event_subscriber sub(io.get_executor(), {{"tcp://127.0.0.1:9", "tcp://127.0.0.1:9", {}}}, sink,
                                      {"node_0"}, log, std::chrono::milliseconds(50));
  sub.start();
  run_until(io, [&] { return sink.lost > 0; });
  CHECK(sink.lost == 1);
  CHECK(sink.synced == 0);
  CHECK(log.str().find("node_0: KV events:") != std::string::npos);
  CHECK(log.str().find("precise-fallback") != std::string::npos);
  sub.stop();
  io.run_for(std::chrono::milliseconds(20));
}

TEST_CASE("kv events over ZeroMQ: a restarted publisher is followed from its new sequence 0", "[kvevents][zmq]") {
  boost::asio::io_context io;
  auto first = bound_publisher(io, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
  REQUIRE(first);
  const auto endpoint = first->endpoint(), replay = first->replay_endpoint();
  kvevents::event_batch b;
  for (int i = 0; i < 5; ++i) first->publish(b);

  recording_sink sink;
  std::ostringstream log;
  experiment::kv_event_subscriber sub(io.get_executor(), {{endpoint, replay, {}}}, sink, {"n0"}, log);
  sub.start();
  run_until(io, [&] { return sink.synced == 1; });
  REQUIRE(sink.batches.size() == 5);

  // The server restarts on the same endpoints: its numbers start again at 0.
  first->stop();
  first.reset();
  auto next = bound_publisher(io, endpoint, replay);
  REQUIRE(next);
  auto& second = *next;
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sink.synced < 2 && std::chrono::steady_clock::now() < limit) {
    second.publish(b);  // until the subscriber has reconnected and read the new history
    io.run_for(std::chrono::milliseconds(20));
  }
  // Two signs of the restart may arrive, in either order: the socket's reconnection and the
  // numbers going back. Each forgets the old blocks and reads the history again (a replay from
  // 0, or batch 0 itself); a replay the second sign supersedes syncs nothing. A last batch
  // marks the end: once it is applied and the index is exact, the checks below hold (a
  // reconnection still untold then would only start another replay).
  kvevents::event_batch last;
  last.ts = 999;
  second.publish(last);
  run_until(io, [&] { return sink.exact && !sink.batches.empty() && sink.batches.back().second == 999; });
  CHECK(sink.exact);
  CHECK(sink.batches.back().second == 999);
  CHECK(sink.restarted >= 1);
  CHECK(sink.restarted <= 2);
  CHECK(sink.synced >= 2);
  CHECK(sink.synced <= 1 + sink.restarted);
  CHECK(sink.lost == 0);
  // The stream's count is of restarts seen; the sink also hears a start over after a failed replay.
  CHECK(sub.stats(0).restarts >= 1);
  CHECK(sub.stats(0).restarts <= static_cast<std::uint64_t>(sink.restarted));
  sub.stop();
  second.stop();
  io.run_for(std::chrono::milliseconds(20));
}

TEST_CASE("kv events over ZeroMQ: a subscriber started before its publisher is exact once the publisher is up", "[kvevents][zmq]") {
  boost::asio::io_context io;
  // Two free ports, then nobody on them: the server is not up yet.
  auto probe = bound_publisher(io, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
  REQUIRE(probe);
  const auto endpoint = probe->endpoint(), replay = probe->replay_endpoint();
  probe->stop();
  probe.reset();

  // The precise policy sees what the subscriber says: lost sticks there until a restart.
  dispatch::policy_config c;
  c.nodes = 1;
  dispatch::precise_policy precise(c);
  recording_sink sink;
  sink.also = &precise;
  std::ostringstream log;
  experiment::kv_event_subscriber sub(io.get_executor(), {{endpoint, replay, {}}}, sink, {"n0"}, log,
                                      std::chrono::milliseconds(1000));
  sub.start();
  run_until(io, [&] { return sink.lost > 0; });
  CHECK(sink.lost == 1);  // said once: judged by the fallback until the server is up
  CHECK(precise.trust(0) == dispatch::kv_trust::lost);
  CHECK(log.str().find("n0: KV events:") != std::string::npos);

  // The server comes up and publishes; the subscription's first batches are lost to the
  // slow joiner, so the first one heard is numbered above 0: the stream starts over from a
  // replay of 0, which the new replay socket (opened at the timeout) reaches.
  auto server = bound_publisher(io, endpoint, replay);
  REQUIRE(server);
  kvevents::event_batch b;
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!sink.exact && std::chrono::steady_clock::now() < limit) {
    b.ts = static_cast<double>(server->next_sequence());
    server->publish(b);
    io.run_for(std::chrono::milliseconds(20));
  }
  INFO("lost " << sink.lost << ", restarted " << sink.restarted << ", synced " << sink.synced << ", batches "
                << sink.batches.size() << ", published " << server->next_sequence() << "; " << log.str());
  REQUIRE(sink.exact);
  CHECK(sink.restarted >= 1);  // the stream starts over: the policy's loss is forgotten
  CHECK(precise.trust(0) == dispatch::kv_trust::exact);
  CHECK(sink.lost >= 1);  // again if the replay socket connected after the first start-over's deadline
  // Every batch the server published was applied, in order, from 0.
  b.ts = static_cast<double>(server->next_sequence());
  server->publish(b);
  run_until(io, [&] { return !sink.batches.empty() && sink.batches.back().second == b.ts; });
  REQUIRE(sink.since_restart.size() == static_cast<std::size_t>(server->next_sequence()));
  for (std::size_t i = 0; i < sink.since_restart.size(); ++i) CHECK(sink.since_restart[i] == static_cast<double>(i));
  CHECK(sink.exact);
  sub.stop();
  server->stop();
  io.run_for(std::chrono::milliseconds(20));
}
