// SPDX-License-Identifier: MIT
// Example: GET a vLLM server's /metrics and print what the page says (the vLLM snapshot).
// Usage: scrape_metrics [BASE_URL]  (no argument: an emulated vLLM node in this process, after one request)
#include <planetserve/http/client.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/openai/stream_completion.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>
#include <planetserve/sim/node_server.hpp>
#include <planetserve/sim/profile.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <optional>

namespace ps = planetserve;

int main(int argc, char** argv) {
  boost::asio::io_context io;
  ps::diagnostics diag;
  std::string url = argc > 1 ? argv[1] : "";

  std::optional<ps::sim::node_server> node;
  if (url.empty()) {
    // Llama 3.1 8B on an A100: the emulator models its step times, so TTFT is not zero.
    auto config = ps::sim::node_config::from_profile(*ps::sim::find_profile("llama-3.1-8b-a100-80gb"));
    node.emplace(io.get_executor(), config);
    auto port = node->listen("127.0.0.1", 0, diag);
    if (!port) return std::cerr << diag.message << "\n", 1;
    url = "http://127.0.0.1:" + std::to_string(*port);
  }
  auto client = ps::http::client::create(io.get_executor(), url, {}, diag);
  if (!client) return std::cerr << diag.message << "\n", 1;

  ps::result<ps::prom::vllm_snapshot> snap = ps::error::invalid_argument;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    if (node) {
      // One completion first, so the emulator's counters are not all zero.
      ps::openai::request_options options;
      options.model = node->config().served_model_name;
      options.max_tokens = 16;
      std::string body;
      ps::openai::build_completions_body(options, "The fjords of Norway are", body);
      co_await ps::openai::async_stream_completion(*client, {.body = body});
    }
    auto page = co_await client->async_fetch(ps::http::client_request::get("/metrics"), diag);
    if (!page) snap = page.error();
    else if (page->status != 200) diag.message = url + "/metrics answered " + std::to_string(page->status);
    else snap = ps::prom::parse_vllm_snapshot(page->body, &diag);  // diag: "line N: ..." if malformed
    client->shutdown();
    if (node) node->stop();
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  if (!snap) return std::cerr << url << "/metrics: " << diag.message << "\n", 1;

  const ps::prom::vllm_snapshot& s = *snap;
  std::cout << "vLLM metrics (" << (s.current_names ? "current" : "legacy") << " names, " << s.vllm_samples
            << " samples)\n"
            << "  running " << s.num_running << ", waiting " << s.num_waiting << ", KV cache "
            << s.kv_cache_usage * 100 << "%\n"
            << "  requests finished " << s.request_success << ", prompt tokens " << s.prompt_tokens
            << ", generated tokens " << s.generation_tokens << "\n"
            << "  prefix cache: " << s.prefix_cache_hits << " of " << s.prefix_cache_queries
            << " tokens hit\n"
            << "  mean TTFT " << (s.ttft_count > 0 ? s.ttft_sum / s.ttft_count * 1e3 : 0) << " ms over "
            << s.ttft_count << " requests\n";
  if (s.num_gpu_blocks) std::cout << "  KV blocks per engine " << *s.num_gpu_blocks << " of " << s.block_size.value_or(0) << " tokens\n";
}
