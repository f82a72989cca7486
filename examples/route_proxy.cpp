// SPDX-License-Identifier: MIT
// Example: a live OpenAI-compatible router deciding with a policy of one's own (route::router
// with router_config::custom_policy), sending a few streamed chats through it.
// Usage: route_proxy                 (2 emulated vLLM nodes in this process, 6 requests, exit)
//        route_proxy PORT URL...     (route real vLLM nodes on 127.0.0.1:PORT until Ctrl-C)
#include <planetserve/dispatch.hpp>
#include <planetserve/http/client.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/route.hpp>
#include <planetserve/sim.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>

namespace ps = planetserve;
namespace dispatch = ps::dispatch;
namespace asio = boost::asio;

// "fewest-in-flight": the available node with the fewest requests being served (ties: the
// lowest index). The router keeps stats(k).in_flight current through on_dispatched and
// on_finished, and `available` through its health checks and breaker.
class fewest_in_flight final : public dispatch::policy {
 public:
  explicit fewest_in_flight(const dispatch::policy_config& config) : policy(config, /*track_prefixes=*/false) {}
  std::string_view name() const noexcept override { return "fewest-in-flight"; }

 protected:
  // Called only when some node is available; must return an available one.
  dispatch::decision do_choose(const dispatch::request_view&, const dispatch::fleet_view&) override {
    std::optional<dispatch::node_index> best;
    for (std::size_t k = 0; k < nodes(); ++k) {
      const auto n = static_cast<dispatch::node_index>(k);
      if (stats(n).available && (!best || stats(n).in_flight < stats(*best).in_flight)) best = n;
    }
    auto d = make_decision(*best, dispatch::rule::custom);
    d.custom_rule = "fewest-in-flight";  // the rule label on the router's /metrics
    return d;
  }
};

int main(int argc, char** argv) {
  asio::io_context io;
  ps::diagnostics diag;

  // The nodes: given on the command line, or two emulated ones on ephemeral ports.
  std::uint16_t port = 0;
  ps::route::router_config config;
  std::optional<ps::sim::fleet> fleet;
  if (argc > 2) {
    const std::string_view p = argv[1];
    if (std::from_chars(p.data(), p.data() + p.size(), port).ec != std::errc{})
      return std::cerr << "route_proxy: PORT '" << p << "' is not a port number\n", 2;
    for (int i = 2; i < argc; ++i) config.endpoints.emplace_back(argv[i]);
  } else {
    ps::sim::fleet_config fc;
    fc.num_nodes = 2;
    fc.node = ps::sim::node_config::from_profile(*ps::sim::find_profile("instant"));
    fleet.emplace(io.get_executor(), fc);
    if (fleet->start(diag)) return std::cerr << diag.message << "\n", 1;
    config.endpoints = fleet->urls();
  }

  // The router: our policy instead of a built-in name; everything else keeps its default
  // (health checks, breaker, retries before the first byte, /metrics scrapes of the nodes).
  config.policy = "fewest-in-flight";
  config.custom_policy = [](const dispatch::policy_config& c) { return std::make_unique<fewest_in_flight>(c); };
  auto made = ps::route::router::create(io.get_executor(), config, diag);
  if (!made) return std::cerr << diag.message << "\n", 1;
  auto& router = **made;

  int status = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    // async_start asks every node for /v1/models (they must agree) and starts the checks.
    if (auto ec = co_await router.async_start(diag)) {
      std::cerr << "route_proxy: " << diag.message << "\n";
      status = 1;
      if (fleet) fleet->stop();
      co_return;
    }
    auto bound = router.listen("127.0.0.1", port, diag);
    if (!bound) {
      std::cerr << "route_proxy: " << diag.message << "\n";
      status = 1;
      co_await router.async_shutdown(std::chrono::milliseconds(0));
      if (fleet) fleet->stop();
      co_return;
    }
    const std::string url = "http://127.0.0.1:" + std::to_string(*bound);

    if (!fleet) {
      // Real nodes: serve until Ctrl-C, then drain for up to 5 s.
      std::cout << "routing " << config.endpoints.size() << " nodes at " << url << " (Ctrl-C stops)\n";
      asio::signal_set signals(io, SIGINT, SIGTERM);
      co_await signals.async_wait(asio::use_awaitable);
      co_await router.async_shutdown(std::chrono::seconds(5));
      co_return;
    }

    // The demo: 6 streamed chats through the router, at once; the x-pswm-node header names
    // the node that served each.
    auto client = ps::http::client::create(io.get_executor(), url, {}, diag);
    ps::openai::request_options options;
    options.model = router.models().front();
    options.max_tokens = 8;
    const ps::openai::message_view messages[] = {{"user", "Which fjord is the longest?"}};
    std::string body;
    ps::openai::build_chat_body(options, messages, body);
    const auto request = ps::http::client_request::post("/v1/chat/completions", "application/json", body);
    std::map<std::string, int> served;
    int done = 0;
    for (int i = 0; i < 6; ++i)
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        ps::diagnostics d;
        auto reader = co_await client->async_open(request, d);
        if (reader && reader->status() == 200) {
          const std::string node(reader->header(ps::route::served_by_header));
          std::string stream;
          if (!co_await reader->async_read_rest(stream, d)) ++served[node];
        } else {
          std::cerr << "request failed: " << d.message << "\n";
          status = 1;
        }
        ++done;
      }, asio::detached);
    asio::steady_timer tick(io);
    while (done < 6) {
      tick.expires_after(std::chrono::milliseconds(5));
      co_await tick.async_wait(asio::use_awaitable);
    }
    for (const auto& [node, n] : served) std::printf("%s served %d\n", node.c_str(), n);
    std::printf("router: %llu requests answered 200\n",
                static_cast<unsigned long long>(router.metrics().requests_with_status(200)));
    if (router.metrics().requests_with_status(200) != 6) status = 1;
    client->shutdown();
    co_await router.async_shutdown(std::chrono::milliseconds(100));
    fleet->stop();  // lets io.run() return
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  return status;
}
