// SPDX-License-Identifier: MIT
// async_stream_completion against the HTTP server replaying captured vLLM streams on port 0.
#include <planetserve/http/server.hpp>
#include <planetserve/openai/server_info.hpp>
#include <planetserve/openai/stream_completion.hpp>

#include "unit/http_test_support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace http = planetserve::http;
namespace oa = planetserve::openai;
using verb = boost::beast::http::verb;
using namespace std::chrono_literals;
using http_test::run_coro;
using http_test::sleep_for;

std::string read_data(const char* name) {
  const std::filesystem::path path = std::filesystem::path(PLANETSERVE_TEST_DATA_DIR) / "http" / name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Replays `stream` event by event (split after each blank line), pausing between events.
http::server_handler replay(std::string stream, std::string* seen_auth = nullptr,
                            bool cut_before_done = false) {
  return [stream = std::move(stream), seen_auth, cut_before_done](
             http::server_request& req, http::server_response& res) -> asio::awaitable<void> {
    if (seen_auth) *seen_auth = std::string(req.header("Authorization"));
    co_await res.async_begin_stream(200, "text/event-stream; charset=utf-8");
    std::size_t at = 0;
    while (at < stream.size()) {
      std::size_t end = stream.find("\n\n", at);
      end = end == std::string::npos ? stream.size() : end + 2;
      const std::string event = stream.substr(at, end - at);
      at = end;
      if (cut_before_done && event.find("[DONE]") != std::string::npos) break;
      co_await sleep_for(3ms);
      co_await res.async_write_chunk(event);
    }
    co_await res.async_end_stream();
  };
}

http::client make_client(asio::io_context& io, std::uint16_t port) {
  ps::diagnostics diag;
  const http::client_config cfg;
  auto c = http::client::create(io.get_executor(), "http://127.0.0.1:" + std::to_string(port), cfg, diag);
  REQUIRE(c.has_value());
  return *c;
}

std::uint16_t listen_local(http::server& srv) {
  ps::diagnostics diag;
  auto port = srv.listen("127.0.0.1", 0, diag);
  REQUIRE(port.has_value());
  return *port;
}

}  // namespace

TEST_CASE("openai stream: chat stream gives first token, chunk times, usage, finish", "[openai][http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    std::string auth;
    srv.route(verb::post, "/v1/chat/completions", replay(read_data("vllm_chat_stream.txt"), &auth));
    auto client = make_client(io, listen_local(srv));
    oa::request_options opt;
    opt.model = "m";
    opt.max_tokens = 5;
    const oa::message_view msgs[] = {{"user", "hello"}};
    std::string body;
    oa::build_chat_body(opt, msgs, body);
    oa::call c;
    c.kind = oa::api::chat;
    c.body = body;
    c.api_key = "sk-test";
    c.keep_text = true;
    oa::stream_result out;
    std::vector<oa::stream_event::kind_t> kinds;
    const oa::event_handler on_event = [&](const oa::stream_event& e) { kinds.push_back(e.kind); };
    co_await oa::async_stream_completion(client, c, out, on_event);
    INFO(out.error_text);
    CHECK(out.ok());
    CHECK(out.status == 200);
    CHECK(auth == "Bearer sk-test");
    CHECK(out.done_marker);
    CHECK(out.text == "Hello, world \"quoted\" \xC3\xA9\n!");
    CHECK(out.content_chunks == 4);  // the empty role-only delta is not a token
    REQUIRE(out.chunk_times.size() == 4);
    REQUIRE(out.first_token);
    CHECK(*out.first_token == out.chunk_times.front());
    CHECK(out.sent >= out.start);
    CHECK(*out.first_token >= out.sent);
    for (std::size_t i = 1; i < out.chunk_times.size(); ++i) CHECK(out.chunk_times[i] >= out.chunk_times[i - 1]);
    CHECK(out.last_byte >= out.chunk_times.back());
    CHECK(out.finish_reason == "length");
    CHECK(out.response_id == "chatcmpl-7f3a");  // the seed's query_id
    REQUIRE(out.usage);
    CHECK(out.usage->prompt_tokens == 12);
    CHECK(out.usage->completion_tokens == 5);
    CHECK(out.usage->cached_tokens == std::optional<std::uint64_t>(8));
    using K = oa::stream_event;
    CHECK(kinds == std::vector<K::kind_t>{K::first_token, K::chunk, K::chunk, K::chunk, K::chunk,
                                          K::finish, K::usage});
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("openai stream: completions stream, and a reused connection for the next call", "[openai][http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::post, "/v1/completions", replay(read_data("vllm_completions_stream.txt")));
    auto client = make_client(io, listen_local(srv));
    oa::request_options opt;
    opt.model = "m";
    std::string body;
    oa::build_completions_body(opt, "The question", body);
    oa::call c;
    c.body = body;
    for (int i = 0; i < 2; ++i) {
      oa::stream_result out = co_await oa::async_stream_completion(client, c);
      INFO(out.error_text);
      CHECK(out.ok());
      CHECK(out.content_chunks == 3);
      CHECK(out.content_bytes == std::string(" The answer is").size());
      CHECK(out.finish_reason == "stop");
      CHECK(out.response_id == "cmpl-91c2");
      REQUIRE(out.usage);
      CHECK(out.usage->completion_tokens == 3);
      CHECK_FALSE(out.usage->cached_tokens);
    }
    CHECK(client.stats().connections_opened == 1);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("openai stream: in-stream error object under HTTP 200 is stream_error", "[openai][http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::post, "/v1/completions", replay(read_data("vllm_stream_error.txt")));
    auto client = make_client(io, listen_local(srv));
    oa::call c;
    c.body = R"({"model":"m","prompt":"x","stream":true})";
    oa::stream_result out = co_await oa::async_stream_completion(client, c);
    CHECK(out.status == 200);
    CHECK(out.error == ps::error::stream_error);
    CHECK(out.error_text.find("The engine died unexpectedly") != std::string::npos);
    CHECK(out.content_chunks == 1);  // the token before the error still counts
    CHECK(out.first_token.has_value());
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("openai stream: stream ending without [DONE] is stream_incomplete", "[openai][http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::post, "/v1/completions", replay(read_data("vllm_completions_stream.txt"), nullptr, true));
    auto client = make_client(io, listen_local(srv));
    oa::call c;
    c.body = "{}";
    oa::stream_result out = co_await oa::async_stream_completion(client, c);
    CHECK(out.error == ps::error::stream_incomplete);
    CHECK(out.error_text.find("[DONE]") != std::string::npos);
    CHECK(out.content_chunks == 3);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("openai stream: 401 and 400 bodies become codes with the server's text", "[openai][http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::post, "/v1/completions", [](http::server_request& req, http::server_response& res) -> asio::awaitable<void> {
      if (req.header("Authorization") != "Bearer right") {
        co_await res.async_write_whole(401, "application/json", R"({"error":"Unauthorized"})");
        co_return;
      }
      co_await res.async_write_whole(400, "application/json",
                                     R"({"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400})");
    });
    auto client = make_client(io, listen_local(srv));
    oa::call c;
    c.body = "{}";
    c.api_key = "wrong";
    oa::stream_result out = co_await oa::async_stream_completion(client, c);
    CHECK(out.status == 401);
    CHECK(out.error == ps::error::unauthorized);
    CHECK(out.error_text.find("Unauthorized") != std::string::npos);
    CHECK(out.error_text.find("wrong") == std::string::npos);  // the key is never echoed
    c.api_key = "right";
    out = co_await oa::async_stream_completion(client, c);
    CHECK(out.status == 400);
    CHECK(out.error == ps::error::bad_request);
    CHECK(out.error_text.find("maximum context length") != std::string::npos);
    CHECK(out.error_text.find("/v1/completions") != std::string::npos);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("openai stream: non-streamed JSON response", "[openai][http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    const std::string whole = read_data("vllm_completion_whole.json");
    srv.route(verb::post, "/v1/completions", [&](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "application/json", whole);
    });
    auto client = make_client(io, listen_local(srv));
    oa::call c;
    c.body = R"({"model":"m","prompt":"x","stream":false})";
    c.keep_text = true;
    oa::stream_result out = co_await oa::async_stream_completion(client, c);
    INFO(out.error_text);
    CHECK(out.ok());
    CHECK(out.text == "Paris is the capital.");
    CHECK(out.response_id == "cmpl-55");
    CHECK(out.finish_reason == "stop");
    REQUIRE(out.usage);
    CHECK(out.usage->completion_tokens == 5);
    CHECK(out.usage->cached_tokens == std::optional<std::uint64_t>(0));
    REQUIRE(out.first_token);
    CHECK(*out.first_token == out.last_byte);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("openai stream: connection refused is reported with the URL", "[openai][http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    std::uint16_t port = 0;
    {
      http::server srv(io.get_executor());
      port = listen_local(srv);
    }  // closed again: nothing listens there now
    auto client = make_client(io, port);
    oa::call c;
    c.body = "{}";
    oa::stream_result out = co_await oa::async_stream_completion(client, c);
    CHECK(out.error == ps::error::connection_failed);
    CHECK(out.error_text.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(out.status == 0);
  });
}

TEST_CASE("openai side endpoints: /v1/models, /tokenize, /health", "[openai][http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    std::string tokenize_body;
    srv.route(verb::get, "/v1/models", [](http::server_request& req, http::server_response& res) -> asio::awaitable<void> {
      if (req.header("Authorization") != "Bearer k") {
        co_await res.async_write_whole(401, "application/json", R"({"error":"Unauthorized"})");
        co_return;
      }
      co_await res.async_write_whole(200, "application/json",
                                     R"({"object":"list","data":[{"id":"m1","object":"model","max_model_len":4096},{"id":"m2","object":"model"}]})");
    });
    srv.route(verb::post, "/tokenize", [&](http::server_request& req, http::server_response& res) -> asio::awaitable<void> {
      tokenize_body = std::string(req.body());
      co_await res.async_write_whole(200, "application/json", R"({"count":3,"max_model_len":4096,"tokens":[128000,9906,1917]})");
    });
    srv.route(verb::get, "/health", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "", "");
    });
    auto client = make_client(io, listen_local(srv));
    ps::diagnostics diag;
    auto models = co_await oa::async_list_models(client, "k", diag);
    REQUIRE(models.has_value());
    CHECK(*models == std::vector<std::string>{"m1", "m2"});
    auto denied = co_await oa::async_list_models(client, "", diag);
    REQUIRE_FALSE(denied.has_value());
    CHECK(denied.error() == ps::error::unauthorized);
    CHECK(diag.message.find("/v1/models") != std::string::npos);

    auto tok = co_await oa::async_tokenize(client, "m1", "Hello \"world\"", "", diag);
    INFO(diag.message);
    REQUIRE(tok.has_value());
    CHECK(tok->count == 3);
    CHECK(tok->max_model_len == std::optional<std::uint64_t>(4096));
    CHECK(tok->tokens == std::vector<std::uint32_t>{128000, 9906, 1917});
    CHECK(tokenize_body == R"({"model":"m1","prompt":"Hello \"world\""})");

    auto health = co_await oa::async_health(client, diag);
    CHECK_FALSE(health);
    auto missing = co_await oa::async_tokenize(client, "m1", "x", "", diag);  // fine again
    CHECK(missing.has_value());
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}

TEST_CASE("openai side endpoints: malformed bodies name the URL and the problem", "[openai][http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    http::server srv(io.get_executor());
    srv.route(verb::get, "/v1/models", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "application/json", R"({"data":[{"id":5}]})");
    });
    srv.route(verb::post, "/tokenize", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "application/json", R"({"tokens":[1]})");
    });
    auto client = make_client(io, listen_local(srv));
    ps::diagnostics diag;
    auto models = co_await oa::async_list_models(client, "", diag);
    REQUIRE_FALSE(models.has_value());
    CHECK(models.error() == ps::error::wrong_field_type);
    CHECK(diag.message.find("/v1/models") != std::string::npos);
    auto tok = co_await oa::async_tokenize(client, "m", "p", "", diag);
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error() == ps::error::missing_field);
    CHECK(diag.message.find("count") != std::string::npos);
    auto health = co_await oa::async_health(client, diag);
    CHECK(health == ps::error::not_found);
    client.shutdown();
    co_await srv.async_shutdown(1s);
  });
}
