// SPDX-License-Identifier: MIT
// Shared helpers for the sim_http_* tests: a small node on port 0, a client, fetch and SSE helpers.
#pragma once

#include <planetserve/http/client.hpp>
#include <planetserve/http/sse_parser.hpp>
#include <planetserve/sim/fleet.hpp>

#include "unit/http_test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace sim_http_test {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace http = planetserve::http;
namespace sim = planetserve::sim;

inline const std::string model = "test-model";

// The instant profile with a model name of our own and a small cache (fast, deterministic).
inline sim::node_config small_node() {
  auto c = sim::node_config::from_profile(*sim::find_profile("instant"));
  c.served_model_name = model;
  c.engine.num_gpu_blocks = 2048;
  c.engine.num_gpu_blocks_overridden = true;
  c.engine.max_model_len = 4096;
  c.engine.max_num_batched_tokens = 512;
  c.engine.max_num_seqs = 16;
  c.engine.seed = 7;
  return c;
}

inline sim::fleet_config one_node(sim::node_config n = small_node()) {
  sim::fleet_config f;
  f.num_nodes = 1;
  f.base_port = 0;
  f.node = std::move(n);
  return f;
}

inline void start(sim::fleet& f) {
  ps::diagnostics diag;
  auto ec = f.start(diag);
  INFO(diag.message);
  REQUIRE_FALSE(ec);
}

inline http::client make_client(asio::io_context& io, const std::string& url) {
  ps::diagnostics diag;
  auto c = http::client::create(io.get_executor(), url, {}, diag);
  INFO(diag.message);
  REQUIRE(c.has_value());
  return *c;
}

inline asio::awaitable<http::response> fetch(http::client& c, const http::client_request& req) {
  ps::diagnostics diag;
  auto r = co_await c.async_fetch(req, diag);
  INFO(diag.message);
  REQUIRE(r.has_value());
  co_return std::move(*r);
}

inline asio::awaitable<http::response> post_json(http::client& c, std::string_view target, std::string_view body,
                                                 std::span<const http::header_field> h = {}) {
  const auto req = http::client_request::post(target, "application/json", body, h);
  co_return co_await fetch(c, req);
}

inline asio::awaitable<http::response> get(http::client& c, std::string_view target,
                                           std::span<const http::header_field> h = {}) {
  const auto req = http::client_request::get(target, h);
  co_return co_await fetch(c, req);
}

// The `data:` payloads of an SSE body, in order, parsed with the library's parser.
inline std::vector<std::string> sse_data(std::string_view body) {
  http::sse_parser p;
  std::vector<std::string> out;
  auto ec = p.feed(body, [&](const http::sse_event& e) { out.emplace_back(e.data); });
  REQUIRE_FALSE(ec);
  CHECK_FALSE(p.mid_event());
  return out;
}

inline boost::json::object json_object(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  INFO(text);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  return v.get_object();
}

}  // namespace sim_http_test
