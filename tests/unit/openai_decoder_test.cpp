// SPDX-License-Identifier: MIT
// Tests for the OpenAI request builders, chunk decoder and HTTP error mapping (no sockets).
#include <planetserve/openai/chunk_decoder.hpp>
#include <planetserve/openai/request_builder.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

namespace ps = planetserve;
namespace oa = planetserve::openai;
namespace json = boost::json;

TEST_CASE("openai: completions body has every option and parses back", "[openai]") {
  oa::request_options opt;
  opt.model = "meta-llama/Llama-3.1-8B";
  opt.max_tokens = 128;
  opt.ignore_eos = true;
  opt.temperature = 0.5;
  std::string body;
  const std::string prompt = std::string("say \"hi\"\\ \n\t\x01 é ") + '\0' + "end";
  oa::build_completions_body(opt, prompt, body);
  auto v = json::parse(body).as_object();
  CHECK(v.at("model").as_string() == "meta-llama/Llama-3.1-8B");
  CHECK(std::string(v.at("prompt").as_string()) == prompt);
  CHECK(v.at("max_tokens").to_number<int>() == 128);
  CHECK(v.at("ignore_eos").as_bool());
  CHECK(v.at("temperature").to_number<double>() == 0.5);
  CHECK(v.at("stream").as_bool());
  CHECK(v.at("stream_options").at("include_usage").as_bool());

  opt = {};
  opt.model = "m";
  opt.stream = false;
  oa::build_completions_body(opt, "p", body);
  v = json::parse(body).as_object();
  CHECK_FALSE(v.at("stream").as_bool());
  CHECK_FALSE(v.contains("stream_options"));
  CHECK_FALSE(v.contains("max_tokens"));
  CHECK_FALSE(v.contains("ignore_eos"));
  CHECK_FALSE(v.contains("temperature"));
}

TEST_CASE("openai: chat body carries the messages in order", "[openai]") {
  oa::request_options opt;
  opt.model = "m";
  opt.max_tokens = 4;
  const oa::message_view msgs[] = {{"system", "be brief"}, {"user", "what's 2+2?"}};
  std::string body;
  oa::build_chat_body(opt, msgs, body);
  auto v = json::parse(body).as_object();
  auto& arr = v.at("messages").as_array();
  REQUIRE(arr.size() == 2);
  CHECK(arr[0].at("role").as_string() == "system");
  CHECK(arr[1].at("content").as_string() == "what's 2+2?");
  CHECK(oa::endpoint_path(oa::api::chat) == "/v1/chat/completions");
  CHECK(oa::endpoint_path(oa::api::completions) == "/v1/completions");
}

TEST_CASE("openai: decoder reads chat deltas, completions text, finish reason and usage", "[openai]") {
  oa::chunk_decoder dec;
  oa::chunk ch;
  ps::diagnostics diag;
  REQUIRE_FALSE(dec.decode(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null})", ch, diag));
  CHECK(ch.content.empty());
  CHECK(ch.finish_reason.empty());
  CHECK_FALSE(ch.usage);

  REQUIRE_FALSE(dec.decode(R"({"choices":[{"index":0,"delta":{"content":"Hel\u00e9"},"finish_reason":"length"}]})", ch, diag));
  CHECK(ch.content == "Hel\xC3\xA9");
  CHECK(ch.finish_reason == "length");

  REQUIRE_FALSE(dec.decode(R"({"choices":[{"index":0,"delta":{"reasoning_content":"think"}}]})", ch, diag));
  CHECK(ch.content == "think");

  REQUIRE_FALSE(dec.decode(R"({"object":"text_completion","choices":[{"index":0,"text":" The","finish_reason":null}]})", ch, diag));
  CHECK(ch.content == " The");

  REQUIRE_FALSE(dec.decode(R"({"choices":[],"usage":{"prompt_tokens":12,"total_tokens":17,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":8}}})", ch, diag));
  REQUIRE(ch.usage);
  CHECK(ch.usage->prompt_tokens == 12);
  CHECK(ch.usage->completion_tokens == 5);
  REQUIRE(ch.usage->cached_tokens);
  CHECK(*ch.usage->cached_tokens == 8);

  REQUIRE_FALSE(dec.decode(R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"prompt_tokens_details":null}})", ch, diag));
  REQUIRE(ch.usage);
  CHECK_FALSE(ch.usage->cached_tokens);

  // Non-streamed chat response.
  REQUIRE_FALSE(dec.decode(R"({"choices":[{"message":{"role":"assistant","content":"Paris"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}})", ch, diag));
  CHECK(ch.content == "Paris");
  CHECK(ch.finish_reason == "stop");
}

TEST_CASE("openai: decoder reports error objects in every shape", "[openai]") {
  oa::chunk_decoder dec;
  oa::chunk ch;
  ps::diagnostics diag;
  REQUIRE_FALSE(dec.decode(R"({"error":{"object":"error","message":"engine died","type":"InternalServerError","param":null,"code":500}})", ch, diag));
  REQUIRE(ch.error);
  CHECK(ch.error->message == "engine died");
  CHECK(ch.error->type == "InternalServerError");
  CHECK(ch.error->code == "500");
  REQUIRE_FALSE(dec.decode(R"({"object":"error","message":"old style","type":"BadRequestError","code":400})", ch, diag));
  REQUIRE(ch.error);
  CHECK(ch.error->message == "old style");
  REQUIRE_FALSE(dec.decode(R"({"error":"Unauthorized"})", ch, diag));
  REQUIRE(ch.error);
  CHECK(ch.error->message == "Unauthorized");
}

TEST_CASE("openai: decoder rejects bad JSON and wrong types, quoting the text", "[openai]") {
  oa::chunk_decoder dec;
  oa::chunk ch;
  struct bad_case {
    const char* text;
    ps::error code;
  } cases[] = {
      {"{\"choices\":[", ps::error::invalid_json},
      {"not json", ps::error::invalid_json},
      {"[1,2]", ps::error::wrong_field_type},
      {R"({"choices":{}})", ps::error::wrong_field_type},
      {R"({"choices":[1]})", ps::error::wrong_field_type},
      {R"({"choices":[{"text":5}]})", ps::error::wrong_field_type},
      {R"({"choices":[{"delta":"x"}]})", ps::error::wrong_field_type},
      {R"({"choices":[{"delta":{"content":["a"]}}]})", ps::error::wrong_field_type},
      {R"({"choices":[{"finish_reason":1}]})", ps::error::wrong_field_type},
      {R"({"usage":[]})", ps::error::wrong_field_type},
      {R"({"usage":{"prompt_tokens":-1}})", ps::error::wrong_field_type},
      {R"({"usage":{"completion_tokens":"3"}})", ps::error::wrong_field_type},
  };
  for (const auto& c : cases) {
    ps::diagnostics diag;
    INFO(c.text);
    auto ec = dec.decode(c.text, ch, diag);
    CHECK(ec == c.code);
    CHECK(diag.message.find(std::string(c.text).substr(0, 5)) != std::string::npos);
  }
}

TEST_CASE("openai: HTTP error bodies map to codes with the server's message", "[openai]") {
  ps::diagnostics diag;
  auto ec = oa::map_http_error(400, R"({"error":{"message":"max_tokens is too large","type":"BadRequestError","param":"max_tokens","code":400}})", "http://h:1/v1/completions", diag);
  CHECK(ec == ps::error::bad_request);
  CHECK(diag.message.find("max_tokens is too large") != std::string::npos);
  CHECK(diag.message.find("HTTP 400") != std::string::npos);
  CHECK(diag.message.find("http://h:1/v1/completions") != std::string::npos);

  ec = oa::map_http_error(404, R"({"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404})", "u", diag);
  CHECK(ec == ps::error::not_found);
  CHECK(diag.message.find("does not exist") != std::string::npos);

  ec = oa::map_http_error(401, R"({"error":"Unauthorized"})", "u", diag);
  CHECK(ec == ps::error::unauthorized);
  CHECK(diag.message.find("Unauthorized") != std::string::npos);

  ec = oa::map_http_error(404, R"({"detail":"Not Found"})", "u", diag);
  CHECK(ec == ps::error::not_found);
  CHECK(diag.message.find("Not Found") != std::string::npos);

  ec = oa::map_http_error(429, "slow down", "u", diag);
  CHECK(ec == ps::error::rate_limited);
  CHECK(diag.message.find("'slow down'") != std::string::npos);

  ec = oa::map_http_error(503, "", "u", diag);
  CHECK(ec == ps::error::server_error);
  CHECK(diag.message.find("empty body") != std::string::npos);

  ec = oa::map_http_error(418, "{}", "u", diag);
  CHECK(ec == ps::error::bad_status);
}
