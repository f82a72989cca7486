// SPDX-License-Identifier: MIT
// The emulator's HTTP front on port 0: every endpoint, vLLM's stream format, usage, auth, errors.
#include <planetserve/openai/chunk_decoder.hpp>
#include <planetserve/openai/stream_completion.hpp>
#include <planetserve/tokenize/approx_tokenizer.hpp>

#include "unit/sim_http_test_support.hpp"

#include <catch2/catch.hpp>

// GCC 12 reports a false -Wmismatched-new-delete on the coroutine frames of test lambdas
// (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

using namespace sim_http_test;
namespace oa = planetserve::openai;
namespace json = boost::json;
using namespace std::chrono_literals;
using http_test::run_coro;

std::string completions_body(std::string_view prompt, unsigned max_tokens, bool stream, bool usage,
                             std::string_view extra = {}) {
  std::string b = "{\"model\":\"" + model + "\",\"prompt\":";
  oa::append_json_string(b, prompt);
  b += ",\"max_tokens\":" + std::to_string(max_tokens) + ",\"ignore_eos\":true";
  if (stream) b += ",\"stream\":true";
  if (usage) b += ",\"stream_options\":{\"include_usage\":true}";
  b += extra;
  b += '}';
  return b;
}

std::size_t approx_tokens(std::string_view text) { return ps::tokenize::approx_tokenizer().encode(text).size(); }

}  // namespace

TEST_CASE("sim_http: /health, /version, /v1/models, /tokenize, /detokenize, /metrics, /reset_prefix_cache", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    sim::fleet f(io.get_executor(), one_node());
    start(f);
    auto c = make_client(io, f.urls().at(0));

    auto health = co_await get(c, "/health");
    CHECK(health.status == 200);
    CHECK(health.body.empty());

    auto version = co_await get(c, "/version");
    CHECK(version.status == 200);
    CHECK(json_object(version.body).at("version").as_string() == "0.26.0");  // the newest modelled

    auto models = co_await get(c, "/v1/models");
    REQUIRE(models.status == 200);
    auto mo = json_object(models.body);
    CHECK(mo.at("object").as_string() == "list");
    const auto& m0 = mo.at("data").as_array().at(0).as_object();
    CHECK(m0.at("id").as_string() == model);
    CHECK(m0.at("owned_by").as_string() == "vllm");
    CHECK(m0.at("max_model_len").as_int64() == 4096);

    const std::string prompt = "The quick brown fox jumps over the lazy dog.";
    const std::string tok_body = "{\"model\":\"" + model + "\",\"prompt\":\"" + prompt + "\"}";
    auto tok = co_await post_json(c, "/tokenize", tok_body);
    REQUIRE(tok.status == 200);
    auto to = json_object(tok.body);
    const auto expected = ps::tokenize::approx_tokenizer().encode(prompt);
    CHECK(to.at("count").as_int64() == static_cast<std::int64_t>(expected.size()));
    CHECK(to.at("max_model_len").as_int64() == 4096);
    const auto& toks = to.at("tokens").as_array();
    REQUIRE(toks.size() == expected.size());
    for (std::size_t i = 0; i < toks.size(); ++i) CHECK(toks[i].as_int64() == static_cast<std::int64_t>(expected[i]));

    // Generated text tokenizes to the generated ids, and /detokenize gives the text back.
    const std::string gen_body = completions_body(prompt, 12, false, false);
    auto gen = co_await post_json(c, "/v1/completions", gen_body);
    REQUIRE(gen.status == 200);
    const std::string text(json_object(gen.body).at("choices").as_array().at(0).as_object().at("text").as_string());
    REQUIRE_FALSE(text.empty());
    const auto text_ids = ps::tokenize::approx_tokenizer().encode(text);
    CHECK(text_ids.size() == 12);
    std::string detok_body = "{\"tokens\":[";
    for (std::size_t i = 0; i < text_ids.size(); ++i) detok_body += (i ? "," : "") + std::to_string(text_ids[i]);
    detok_body += "]}";
    auto detok = co_await post_json(c, "/detokenize", detok_body);
    REQUIRE(detok.status == 200);
    CHECK(json_object(detok.body).at("prompt").as_string() == text);

    auto metrics = co_await get(c, "/metrics");
    CHECK(metrics.status == 200);
    CHECK(metrics.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
    CHECK(metrics.body.find("vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"test-model\"}") != std::string::npos);
    CHECK(metrics.body.find("vllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"test-model\"} 1.0") !=
          std::string::npos);

    // The same prompt hits the cache; after a reset it does not.
    const auto& eng = f.node(0).engine();
    std::string spaced;
    for (int i = 0; i < 100; ++i) spaced += " word" + std::to_string(i);
    const std::string again = completions_body(spaced, 2, false, false);
    co_await post_json(c, "/v1/completions", again);
    const auto hits_before = eng.stats().prefix_cache_hits;
    co_await post_json(c, "/v1/completions", again);
    CHECK(eng.stats().prefix_cache_hits > hits_before);
    auto reset = co_await post_json(c, "/reset_prefix_cache", "");
    CHECK(reset.status == 200);
    CHECK(eng.cache().num_cached_blocks() == 0);
    const auto hits_after_reset = eng.stats().prefix_cache_hits;
    co_await post_json(c, "/v1/completions", again);
    CHECK(eng.stats().prefix_cache_hits == hits_after_reset);

    auto unknown = co_await get(c, "/v2/nothing");
    CHECK(unknown.status == 404);
    auto wrong_method = co_await get(c, "/v1/completions");
    CHECK(wrong_method.status == 405);

    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: streamed completion is vLLM's SSE format with a usage chunk and [DONE]", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    sim::fleet f(io.get_executor(), one_node());
    start(f);
    auto c = make_client(io, f.urls().at(0));
    const std::string prompt = "Tell me a story about a cat and a dog";
    const std::string body = completions_body(prompt, 6, true, true);
    auto r = co_await post_json(c, "/v1/completions", body);
    REQUIRE(r.status == 200);
    CHECK(r.content_type.rfind("text/event-stream", 0) == 0);
    const auto events = sse_data(r.body);
    REQUIRE(events.size() == 6 + 2);  // one token per chunk, usage chunk, [DONE]
    CHECK(events.back() == "[DONE]");

    oa::chunk_decoder dec;
    oa::chunk ch;
    ps::diagnostics diag;
    std::string text, id;
    for (std::size_t i = 0; i < 6; ++i) {
      INFO(events[i]);
      REQUIRE_FALSE(dec.decode(events[i], ch, diag));
      CHECK_FALSE(ch.content.empty());
      CHECK(ch.finish_reason == (i == 5 ? "length" : ""));
      CHECK_FALSE(ch.usage.has_value());
      text += ch.content;
      auto o = json_object(events[i]);
      CHECK(o.at("object").as_string() == "text_completion");
      CHECK(o.at("model").as_string() == model);
      CHECK(o.at("created").is_number());
      if (id.empty()) id = std::string(o.at("id").as_string());
      CHECK(o.at("id").as_string() == id);
      const auto& choice = o.at("choices").as_array().at(0).as_object();
      CHECK(choice.at("index").as_int64() == 0);
      CHECK(choice.at("logprobs").is_null());
      CHECK(choice.at("stop_reason").is_null());
      CHECK(choice.contains("finish_reason"));
    }
    CHECK(id.rfind("cmpl-", 0) == 0);
    CHECK(ps::tokenize::approx_tokenizer().encode(text).size() == 6);

    const std::string& usage_event = events[6];
    REQUIRE_FALSE(dec.decode(usage_event, ch, diag));
    REQUIRE(ch.usage.has_value());
    CHECK(ch.usage->prompt_tokens == approx_tokens(prompt));
    CHECK(ch.usage->completion_tokens == 6);
    CHECK_FALSE(ch.usage->cached_tokens.has_value());  // vLLM sends details only when enabled
    auto uo = json_object(usage_event);
    CHECK(uo.at("choices").as_array().empty());
    CHECK(uo.at("usage").as_object().at("total_tokens").as_int64() ==
          static_cast<std::int64_t>(approx_tokens(prompt) + 6));

    // Without include_usage: no usage chunk.
    const std::string plain_body = completions_body(prompt, 3, true, false);
    auto plain = co_await post_json(c, "/v1/completions", plain_body);
    const auto plain_events = sse_data(plain.body);
    REQUIRE(plain_events.size() == 4);
    CHECK(plain_events.back() == "[DONE]");
    for (std::size_t i = 0; i < 3; ++i) CHECK(json_object(plain_events[i]).at("usage").is_null());

    // continuous_usage_stats: every chunk carries the counts so far.
    std::string cont_body = completions_body(prompt, 4, true, false);
    cont_body.insert(cont_body.size() - 1, ",\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":true}");
    auto cont = co_await post_json(c, "/v1/completions", cont_body);
    REQUIRE(cont.status == 200);
    const auto cont_events = sse_data(cont.body);
    REQUIRE(cont_events.size() == 6);
    for (std::size_t i = 0; i < 4; ++i) {
      auto o = json_object(cont_events[i]);
      CHECK(o.at("usage").as_object().at("completion_tokens").as_int64() == static_cast<std::int64_t>(i + 1));
      CHECK(o.at("usage").as_object().at("prompt_tokens").as_int64() == static_cast<std::int64_t>(approx_tokens(prompt)));
    }

    // Through the library's streaming call, as the pipeline uses it.
    oa::call call;
    call.kind = oa::api::completions;
    call.body = body;
    call.keep_text = true;
    auto out = co_await oa::async_stream_completion(c, call);
    INFO(out.error_text);
    CHECK(out.ok());
    CHECK(out.done_marker);
    CHECK(out.content_chunks == 6);
    CHECK(out.finish_reason == "length");
    REQUIRE(out.usage.has_value());
    CHECK(out.usage->completion_tokens == 6);
    CHECK(ps::tokenize::approx_tokenizer().encode(out.text).size() == 6);
    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: chat stream starts with the role chunk; non-streamed responses are whole JSON", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto cfg = small_node();
    cfg.enable_prompt_tokens_details = true;
    sim::fleet f(io.get_executor(), one_node(cfg));
    start(f);
    auto c = make_client(io, f.urls().at(0));
    std::string history;
    for (int i = 0; i < 60; ++i) history += " turn" + std::to_string(i);
    const std::string chat = "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"system\",\"content\":\"" + history +
                             "\"},{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4,\"ignore_eos\":true," +
                             "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
    auto r = co_await post_json(c, "/v1/chat/completions", chat);
    REQUIRE(r.status == 200);
    const auto events = sse_data(r.body);
    REQUIRE(events.size() == 1 + 4 + 1 + 1);
    auto role = json_object(events[0]);
    CHECK(role.at("object").as_string() == "chat.completion.chunk");
    CHECK(std::string(role.at("id").as_string()).rfind("chatcmpl-", 0) == 0);
    const auto& delta0 = role.at("choices").as_array().at(0).as_object().at("delta").as_object();
    CHECK(delta0.at("role").as_string() == "assistant");
    CHECK(delta0.at("content").as_string() == "");
    oa::chunk_decoder dec;
    oa::chunk ch;
    ps::diagnostics diag;
    for (std::size_t i = 1; i <= 4; ++i) {
      REQUIRE_FALSE(dec.decode(events[i], ch, diag));
      CHECK_FALSE(ch.content.empty());
      const auto chunk_obj = json_object(events[i]);
      const auto& choice = chunk_obj.at("choices").as_array().at(0).as_object();
      CHECK(choice.at("delta").as_object().contains("content"));
      CHECK_FALSE(choice.at("delta").as_object().contains("role"));
      CHECK(choice.contains("finish_reason"));
    }
    CHECK(ch.finish_reason == "length");
    REQUIRE_FALSE(dec.decode(events[5], ch, diag));
    REQUIRE(ch.usage.has_value());
    CHECK(ch.usage->completion_tokens == 4);
    CHECK_FALSE(ch.usage->cached_tokens.has_value());  // nothing cached: vLLM leaves the details out
    const auto first_prompt_tokens = ch.usage->prompt_tokens;
    CHECK(events[6] == "[DONE]");

    // The same conversation again: every full block of the prompt but the last token's is cached.
    auto again = co_await post_json(c, "/v1/chat/completions", chat);
    const auto again_events = sse_data(again.body);
    REQUIRE(again_events.size() == 7);
    REQUIRE_FALSE(dec.decode(again_events[5], ch, diag));
    REQUIRE(ch.usage.has_value());
    REQUIRE(ch.usage->cached_tokens.has_value());
    CHECK(*ch.usage->cached_tokens == (first_prompt_tokens - 1) / 16 * 16);

    // Non-streamed chat.
    const std::string whole = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hello\"}]}],"
                              "\"max_completion_tokens\":5,\"ignore_eos\":true}";
    auto w = co_await post_json(c, "/v1/chat/completions", whole);
    REQUIRE(w.status == 200);
    CHECK(w.content_type == "application/json");
    auto wo = json_object(w.body);
    CHECK(wo.at("object").as_string() == "chat.completion");
    const auto& msg = wo.at("choices").as_array().at(0).as_object().at("message").as_object();
    CHECK(msg.at("role").as_string() == "assistant");
    CHECK(ps::tokenize::approx_tokenizer().encode(std::string(msg.at("content").as_string())).size() == 5);
    CHECK(wo.at("choices").as_array().at(0).as_object().at("finish_reason").as_string() == "length");
    CHECK(wo.at("usage").as_object().at("completion_tokens").as_int64() == 5);
    // The chat template's first block may be cached already: details appear only with a hit.
    const auto& ptd = wo.at("usage").as_object().at("prompt_tokens_details");
    CHECK((ptd.is_null() || ptd.as_object().at("cached_tokens").as_int64() % 16 == 0));

    // Non-streamed, the same conversation: the details carry the hit.
    std::string chat_whole = chat;
    chat_whole.replace(chat_whole.find(",\"stream\":true"), std::string(",\"stream\":true,\"stream_options\":{\"include_usage\":true}").size(), "");
    auto cw = co_await post_json(c, "/v1/chat/completions", chat_whole);
    REQUIRE(cw.status == 200);
    auto cwo = json_object(cw.body);
    CHECK(cwo.at("usage").as_object().at("prompt_tokens_details").as_object().at("cached_tokens").as_int64() ==
          static_cast<std::int64_t>((first_prompt_tokens - 1) / 16 * 16));

    // Non-streamed completion with a natural (seeded) length ends with "stop" or "length".
    const std::string natural = "{\"prompt\":\"Once upon a time\",\"max_tokens\":2000}";
    auto nat = co_await post_json(c, "/v1/completions", natural);
    REQUIRE(nat.status == 200);
    auto no = json_object(nat.body);
    CHECK(no.at("object").as_string() == "text_completion");
    const auto& nchoice = no.at("choices").as_array().at(0).as_object();
    const std::string reason(nchoice.at("finish_reason").as_string());
    CHECK((reason == "stop" || reason == "length"));
    CHECK(no.at("usage").as_object().at("completion_tokens").as_int64() ==
          static_cast<std::int64_t>(ps::tokenize::approx_tokenizer().encode(std::string(nchoice.at("text").as_string())).size()));
    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: --api-key guards /v1/* and /tokenize with 401 {\"error\":\"Unauthorized\"}", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    auto cfg = small_node();
    cfg.api_key = "sk-secret";
    sim::fleet f(io.get_executor(), one_node(cfg));
    start(f);
    auto c = make_client(io, f.urls().at(0));
    const http::header_field good[] = {{"Authorization", "Bearer sk-secret"}};
    const http::header_field bad[] = {{"Authorization", "Bearer sk-secreT"}};
    const http::header_field longer[] = {{"Authorization", "Bearer sk-secret0"}};
    const std::string body = completions_body("hi there", 2, false, false);

    auto none = co_await post_json(c, "/v1/completions", body);
    CHECK(none.status == 401);
    CHECK(none.body == "{\"error\":\"Unauthorized\"}");
    auto wrong = co_await post_json(c, "/v1/completions", body, bad);
    CHECK(wrong.status == 401);
    auto wrong_len = co_await post_json(c, "/v1/chat/completions", body, longer);
    CHECK(wrong_len.status == 401);
    auto models = co_await get(c, "/v1/models");
    CHECK(models.status == 401);
    const std::string tok_body = "{\"prompt\":\"hi\"}";
    auto tok = co_await post_json(c, "/tokenize", tok_body);
    CHECK(tok.status == 401);
    CHECK(f.node(0).engine().stats().prefix_cache_queries == 0);  // nothing reached the engine

    auto ok = co_await post_json(c, "/v1/completions", body, good);
    CHECK(ok.status == 200);
    auto ok_models = co_await get(c, "/v1/models", good);
    CHECK(ok_models.status == 200);
    auto ok_tok = co_await post_json(c, "/tokenize", tok_body, good);
    CHECK(ok_tok.status == 200);
    // Operational endpoints stay open, as in vLLM.
    auto health = co_await get(c, "/health");
    CHECK(health.status == 200);
    auto metrics = co_await get(c, "/metrics");
    CHECK(metrics.status == 200);
    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: vLLM-shaped 400 and 404 errors", "[sim][sim_http]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    sim::fleet f(io.get_executor(), one_node());
    start(f);
    auto c = make_client(io, f.urls().at(0));
    struct bad_case {
      const char* target;
      std::string body;
      unsigned status;
      const char* message_part;
    };
    const std::vector<bad_case> cases = {
        {"/v1/completions", "{\"model\":\"other\",\"prompt\":\"hi\"}", 404, "does not exist"},
        {"/v1/chat/completions", "{\"model\":\"other\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 404, "does not exist"},
        {"/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":5000}", 400, "maximum context length is 4096"},
        {"/v1/completions", "{\"prompt\":\"hi\"", 400, "JSON"},
        {"/v1/completions", "[1,2]", 400, "dictionary"},
        {"/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":\"ten\"}", 400, "max_tokens"},
        {"/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":0}", 400, "at least 1"},
        {"/v1/completions", "{\"prompt\":\"hi\",\"stream\":\"yes\"}", 400, "stream"},
        {"/v1/completions", "{\"max_tokens\":3}", 400, "prompt"},
        {"/v1/completions", "{\"prompt\":\"\",\"max_tokens\":3}", 400, "empty"},
        {"/v1/completions", "{\"prompt\":\"hi\",\"stream_options\":{\"include_usage\":true}}", 400, "stream=True"},
        {"/v1/chat/completions", "{\"messages\":\"hi\"}", 400, "messages"},
        {"/v1/chat/completions", "{\"messages\":[{\"content\":\"hi\"}]}", 400, "role"},
        {"/tokenize", "{\"model\":\"other\",\"prompt\":\"hi\"}", 404, "does not exist"},
        {"/detokenize", "{\"tokens\":[\"a\"]}", 400, "tokens"},
    };
    for (const auto& bc : cases) {
      INFO(bc.target << " " << bc.body);
      auto r = co_await post_json(c, bc.target, bc.body);
      CHECK(r.status == bc.status);
      auto o = json_object(r.body);
      const auto& e = o.at("error").as_object();
      CHECK(std::string(e.at("message").as_string()).find(bc.message_part) != std::string::npos);
      CHECK(e.at("type").as_string() == (bc.status == 404 ? "NotFoundError" : "BadRequestError"));
      CHECK(e.at("code").as_int64() == bc.status);
      CHECK(e.contains("param"));
      ps::diagnostics diag;
      auto ec = oa::map_http_error(r.status, r.body, bc.target, diag);
      CHECK(ec == (bc.status == 404 ? ps::error::not_found : ps::error::bad_request));
    }
    CHECK(f.node(0).engine().num_waiting() == 0);
    CHECK(f.node(0).engine().num_running() == 0);
    c.shutdown();
    co_await f.async_shutdown(100ms);
  });
}

TEST_CASE("sim_http: /version and /metrics follow the emulated vLLM version", "[sim][sim_http][vllm_version]") {
  for (const char* name : {"0.11.0", "0.26.0"}) {
    INFO("vLLM " << name);
    run_coro([name](asio::io_context& io) -> asio::awaitable<void> {
      auto n = small_node();
      n.vllm = *sim::find_vllm_version(name);
      sim::fleet f(io.get_executor(), one_node(n));
      start(f);
      auto c = make_client(io, f.urls().at(0));
      auto version = co_await get(c, "/version");
      CHECK(json_object(version.body).at("version").as_string() == name);
      auto metrics = co_await get(c, "/metrics");
      const bool newer = std::string_view(name) == "0.26.0";
      CHECK((metrics.body.find("vllm:prompt_tokens_cached_total{") != std::string::npos) == newer);
      CHECK((metrics.body.find("finished_reason=\"repetition\"") != std::string::npos) == newer);
      CHECK(f.node(0).engine().config().counting ==
            (newer ? sim::prefix_cache_counting::at_admission : sim::prefix_cache_counting::per_lookup));
      f.stop();
    });
  }
}
