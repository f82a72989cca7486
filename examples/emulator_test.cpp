// SPDX-License-Identifier: MIT
// Example: the vLLM emulator inside a unit test: two nodes on ephemeral ports, your scheduler's
// routing checked against what the servers say they served.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <planetserve.hpp>  // the whole library; fine in a test, slower to compile than single headers

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace ps = planetserve;

TEST_CASE("rr sends alternate requests to alternate emulated nodes, each of which answers in full") {
  boost::asio::io_context io;
  ps::sim::fleet_config fc;
  fc.num_nodes = 2;
  // `instant`: no modelled GPU time, so the test takes milliseconds; the protocol is vLLM's.
  fc.node = ps::sim::node_config::from_profile(*ps::sim::find_profile("instant"));
  ps::sim::fleet fleet(io.get_executor(), fc);
  ps::diagnostics diag;
  REQUIRE_FALSE(fleet.start(diag));

  std::vector<ps::http::client> clients;
  for (const auto& url : fleet.urls()) clients.push_back(ps::http::client::create(io.get_executor(), url, {}, diag).value());

  ps::dispatch::policy_config pc;
  pc.nodes = fleet.size();
  auto rr = ps::dispatch::make_policy("rr", pc);
  ps::tokenize::approx_tokenizer tok;

  std::vector<ps::openai::stream_result> outcomes;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    ps::openai::request_options options;
    options.model = fc.node.served_model_name;
    options.max_tokens = 5;
    options.ignore_eos = true;  // exactly 5 tokens each
    std::string body;
    for (std::uint64_t i = 0; i < 6; ++i) {
      const std::string prompt = "Request number " + std::to_string(i);
      const auto ids = tok.encode(prompt);
      const ps::dispatch::decision d = rr->choose({ids, i});
      rr->on_dispatched(d.node, {ids, i});
      ps::openai::build_completions_body(options, prompt, body);
      outcomes.push_back(co_await ps::openai::async_stream_completion(clients[d.node], {.body = body}));
      rr->on_finished(d.node, {});
    }
    for (auto& c : clients) c.shutdown();
    fleet.stop();
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();

  REQUIRE(outcomes.size() == 6);
  for (const auto& o : outcomes) {
    INFO(o.error_text);
    CHECK(o.ok());
    CHECK(o.done_marker);
    REQUIRE(o.usage);
    CHECK(o.usage->completion_tokens == 5);
  }
  // The emulator's own counters: each node served half.
  CHECK(fleet.node(0).stats().completed == 3);
  CHECK(fleet.node(1).stats().completed == 3);
}
