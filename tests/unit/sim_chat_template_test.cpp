// SPDX-License-Identifier: MIT
// Tests for sim::chat_template: recognising a tokenizer_config.json's chat_template (Llama 3,
// ChatML), rendering with it, refusing other shapes, and a node serving chat with it.
#include <planetserve/sim/chat_template.hpp>

#include "unit/sim_http_test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

// GCC 12 reports a false -Wmismatched-new-delete on the coroutine frames of test lambdas
// (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

using namespace planetserve::sim;
using planetserve::diagnostics;
using planetserve::workload::chat_message;

namespace {

const std::string dir = PLANETSERVE_TEST_DATA_DIR "/chat_template/";

chat_template load(const std::string& name) {
  diagnostics diag;
  auto t = load_chat_template(dir + name, diag);
  INFO(diag.message);
  REQUIRE(t.has_value());
  return *t;
}

const std::vector<chat_message> conversation{{"system", " Be brief.\n"}, {"user", "\tHi there  "}};

}  // namespace

TEST_CASE("sim chat template: a Llama 3.1 tokenizer_config renders as Llama 3.1's template", "[sim][chat]") {
  const auto t = load("llama3_1_tokenizer_config.json");
  CHECK(t.shape == chat_template_shape::llama3);
  CHECK(t.always_system);
  CHECK(t.system_preamble == "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n");
  CHECK(t.render(conversation) == render_llama3_chat(conversation));
  CHECK(t.render({{"user", "x"}}, false) == render_llama3_chat({{"user", "x"}}, false));
  // The dates come from the template text, not from our default.
  diagnostics diag;
  auto other = parse_chat_template(
      "{%- set date_string = \"01 Jan 2030\" %}{{ \"Cutting Knowledge Date: March 2029\\n\" }}"
      "<|start_header_id|><|end_header_id|><|eot_id|>",
      "test", diag);
  REQUIRE(other.has_value());
  CHECK(other->system_preamble == "Cutting Knowledge Date: March 2029\nToday Date: 01 Jan 2030\n\n");
}

TEST_CASE("sim chat template: a Llama 3 tokenizer_config has no default system turn", "[sim][chat]") {
  const auto t = load("llama3_tokenizer_config.json");
  CHECK(t.shape == chat_template_shape::llama3);
  CHECK_FALSE(t.always_system);
  std::pair<std::size_t, std::size_t> last{0, 0};
  const auto text = t.render(conversation, true, &last);
  CHECK(text ==
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user"
        "<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK(text.substr(last.first, last.second) == "Hi there");
  CHECK(t.render({{"user", "x"}}, false) == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>");
}

TEST_CASE("sim chat template: a Qwen 2.5 tokenizer_config renders ChatML with its default system message", "[sim][chat]") {
  const auto t = load("qwen2_5_tokenizer_config.json");
  CHECK(t.shape == chat_template_shape::chatml);
  CHECK(t.default_system == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  // ChatML keeps contents as sent (no trim) and writes no BOS.
  std::pair<std::size_t, std::size_t> last{0, 0};
  const auto text = t.render(conversation, true, &last);
  CHECK(text == "<|im_start|>system\n Be brief.\n<|im_end|>\n<|im_start|>user\n\tHi there  <|im_end|>\n"
                "<|im_start|>assistant\n");
  CHECK(text.substr(last.first, last.second) == "\tHi there  ");
  CHECK(t.render({{"user", "Hello"}, {"assistant", "Hi."}, {"user", "Bye"}}, true) ==
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n");
  // The "default" entry of a list of named templates is the one applied.
  const auto named = load("named_templates_tokenizer_config.json");
  CHECK(named.shape == chat_template_shape::chatml);
  CHECK(named.default_system == t.default_system);
}

TEST_CASE("sim chat template: ChatML special tokens are single ids; turns extend the prompt", "[sim][chat]") {
  const auto t = load("qwen2_5_tokenizer_config.json");
  const auto tok = default_prompt_tokenizer(t);
  std::vector<chat_message> conv{{"user", "Name a prime."}};
  const auto ids1 = tok->encode(t.render(conv));
  REQUIRE(ids1.size() > 4);
  CHECK(ids1.front() == qwen2_special_tokens::im_start);
  CHECK(std::count(ids1.begin(), ids1.end(), qwen2_special_tokens::im_end) == 2);
  conv.push_back({"assistant", "Seven."});
  conv.push_back({"user", "Another."});
  const auto ids2 = tok->encode(t.render(conv));
  // The first turn's prompt without its open assistant header is a prefix of the next one.
  const auto head = tok->encode(t.render({conv.front()}, false));
  REQUIRE(ids2.size() > head.size());
  CHECK(std::equal(head.begin(), head.end(), ids2.begin()));
}

TEST_CASE("sim chat template: other templates and broken files are refused, naming the file", "[sim][chat]") {
  diagnostics diag;
  auto other = load_chat_template(dir + "unsupported_tokenizer_config.json", diag);
  REQUIRE_FALSE(other.has_value());
  CHECK(other.error() == planetserve::make_error_code(planetserve::error::invalid_argument));
  CHECK(diag.message.find("unsupported_tokenizer_config.json") != std::string::npos);
  CHECK(diag.message.find("Llama 3") != std::string::npos);
  CHECK(diag.message.find("ChatML") != std::string::npos);

  diag.clear();
  auto none = load_chat_template(dir + "no_template_tokenizer_config.json", diag);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error() == planetserve::make_error_code(planetserve::error::missing_field));
  CHECK(diag.message.find("no_template_tokenizer_config.json: no chat_template") != std::string::npos);

  diag.clear();
  auto missing = load_chat_template(dir + "absent.json", diag);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error() == planetserve::make_error_code(planetserve::error::file_not_found));

  diag.clear();
  auto not_json = load_chat_template(dir + "README.md", diag);
  REQUIRE_FALSE(not_json.has_value());
  CHECK(diag.message.find("README.md: not a JSON object") != std::string::npos);
}

TEST_CASE("sim chat template: a node renders chat requests with the configured template", "[sim][chat][sim_http]") {
  using namespace sim_http_test;
  http_test::run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto n = small_node();
    n.chat = load("qwen2_5_tokenizer_config.json");
    sim::fleet f(io.get_executor(), one_node(n));
    start(f);
    auto c = make_client(io, f.urls().at(0));
    const std::string body =
        "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Name a prime.\"}]}";
    auto tok = co_await post_json(c, "/tokenize", body);
    REQUIRE(tok.status == 200);
    const auto reply = json_object(tok.body);
    const auto& ids = reply.at("tokens").as_array();
    const auto want = sim::default_prompt_tokenizer(n.chat)->encode(n.chat.render({{"user", "Name a prime."}}));
    REQUIRE(ids.size() == want.size());
    for (std::size_t i = 0; i < ids.size(); ++i) CHECK(ids[i].as_int64() == static_cast<std::int64_t>(want[i]));
    CHECK(ids[0].as_int64() == sim::qwen2_special_tokens::im_start);
    co_await f.async_shutdown(std::chrono::milliseconds(100));
  });
}
