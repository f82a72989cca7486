// SPDX-License-Identifier: MIT
// Example: stream one chat completion, printing tokens as they arrive, then TTFT and token counts.
// Usage: stream_completion [BASE_URL MODEL]  (no arguments: an emulated vLLM node in this process)
#include <planetserve/http/client.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/openai/stream_completion.hpp>
#include <planetserve/sim/node_server.hpp>
#include <planetserve/sim/profile.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <optional>

namespace ps = planetserve;
using std::chrono::duration;

int main(int argc, char** argv) {
  boost::asio::io_context io;
  ps::diagnostics diag;
  std::string url = argc > 1 ? argv[1] : "";
  std::string model = argc > 2 ? argv[2] : "";

  // No server given: start one emulated node (Llama 3.1 8B on an A100) on an ephemeral port.
  std::optional<ps::sim::node_server> node;
  if (url.empty()) {
    auto config = ps::sim::node_config::from_profile(*ps::sim::find_profile("llama-3.1-8b-a100-80gb"));
    node.emplace(io.get_executor(), config);
    auto port = node->listen("127.0.0.1", 0, diag);
    if (!port) return std::cerr << diag.message << "\n", 1;
    url = "http://127.0.0.1:" + std::to_string(*port);
    model = config.served_model_name;
  }

  auto client = ps::http::client::create(io.get_executor(), url, {}, diag);
  if (!client) return std::cerr << diag.message << "\n", 1;

  ps::openai::request_options options;
  options.model = model;
  options.max_tokens = 32;
  const ps::openai::message_view messages[] = {{"user", "Tell me about the fjords of Norway."}};
  std::string body;
  ps::openai::build_chat_body(options, messages, body);

  ps::openai::call call;
  call.kind = ps::openai::api::chat;
  call.body = body;
  ps::openai::stream_result out;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    // Each chunk's text as it comes off the socket.
    co_await ps::openai::async_stream_completion(*client, call, out, [](const ps::openai::stream_event& e) {
      if (e.kind == ps::openai::stream_event::chunk) std::cout << e.text << std::flush;
    });
    client->shutdown();
    if (node) node->stop();  // lets io.run() return
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  std::cout << "\n";

  if (!out.ok()) return std::cerr << "failed: " << out.error_text << "\n", 1;
  // Times are socket-read times on the steady clock, measured from the start of the call.
  const auto ms = [&](auto t) { return duration<double, std::milli>(t - out.start).count(); };
  std::cout << "TTFT " << ms(*out.first_token) << " ms, last byte " << ms(out.last_byte) << " ms, "
            << out.content_chunks << " chunks, " << out.usage->prompt_tokens << " prompt tokens, "
            << out.usage->completion_tokens << " completion tokens, finish_reason " << out.finish_reason << "\n";
}
