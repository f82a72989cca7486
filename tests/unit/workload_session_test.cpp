// SPDX-License-Identifier: MIT
// Tests for the conversation reader: both shapes, turn prompts from history, bad input, round trip.
#include <planetserve/workload/session.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ws = planetserve::workload;
using planetserve::error;

namespace {

ws::session_dataset parse_ok(std::string_view text, ws::dataset_config config = {}) {
  planetserve::diagnostics diag;
  auto d = ws::parse_sessions(text, "chat.jsonl", config, diag);
  INFO(diag.message);
  REQUIRE(d.has_value());
  return std::move(*d);
}

std::string parse_fail(std::string_view text, error expected) {
  planetserve::diagnostics diag;
  auto d = ws::parse_sessions(text, "chat.jsonl", {}, diag);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error() == make_error_code(expected));
  return diag.message;
}

std::vector<std::string> roles(const std::vector<ws::chat_message>& m) {
  std::vector<std::string> out;
  for (const auto& x : m) out.push_back(x.role);
  return out;
}

}  // namespace

TEST_CASE("sessions: ShareGPT conversations become turns with the dataset's replies", "[workload][session]") {
  const auto d = parse_ok(
      R"({"id": "abc", "conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},)"
      R"( {"from": "gpt", "value": "Hello!"}, {"from": "human", "value": "Weather?"}, {"from": "gpt", "value": "Sunny."},)"
      R"( {"from": "human", "value": "Thanks"}]})"
      "\n\n"
      R"({"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}, {"from": "chatgpt", "value": "c"}]})"
      "\n");
  REQUIRE(d.sessions.size() == 2);
  CHECK(d.turns() == 4);
  const auto& s = d.sessions[0];
  CHECK(s.id == "abc");
  CHECK(s.system == "Be brief.");
  CHECK(s.line == 1);
  REQUIRE(s.turns.size() == 3);
  CHECK(s.turns[0].user == "Hi");
  CHECK(s.turns[0].assistant == "Hello!");
  CHECK(s.turns[1].user == "Weather?");
  CHECK(s.turns[2].user == "Thanks");
  CHECK(s.turns[2].assistant.empty());
  // No id: the line number (line 3, after a blank line). Two user messages in a row are one turn.
  const auto& t = d.sessions[1];
  CHECK(t.id == "3");
  CHECK(t.system.empty());
  REQUIRE(t.turns.size() == 1);
  CHECK(t.turns[0].user == "a\nb");
  CHECK(t.turns[0].assistant == "c");
}

TEST_CASE("sessions: OpenAI messages with several user turns, numeric ids and content parts", "[workload][session]") {
  const auto d = parse_ok(
      R"({"id": 42, "messages": [{"role": "developer", "content": "S"}, {"role": "user", "content": [{"type": "text", "text": "q1"}]},)"
      R"( {"role": "assistant", "content": "r1"}, {"role": "user", "content": "q2"}]})");
  REQUIRE(d.sessions.size() == 1);
  const auto& s = d.sessions[0];
  CHECK(s.id == "42");
  CHECK(s.system == "S");
  REQUIRE(s.turns.size() == 2);
  CHECK(s.turns[0].user == "q1");
  CHECK(s.turns[0].assistant == "r1");
  CHECK(s.turns[1].user == "q2");
}

TEST_CASE("sessions: turn k's prompt is system + history + user k, replies live or from the dataset",
          "[workload][session]") {
  ws::session s;
  s.id = "s";
  s.system = "sys";
  s.turns = {{"u0", "a0"}, {"u1", "a1"}, {"u2", ""}};
  const auto first = ws::turn_messages(s, 0);
  CHECK(roles(first) == std::vector<std::string>{"system", "user"});
  CHECK(first[1].content == "u0");

  const auto dataset = ws::turn_messages(s, 2);
  CHECK(roles(dataset) == std::vector<std::string>{"system", "user", "assistant", "user", "assistant", "user"});
  CHECK(dataset[2].content == "a0");
  CHECK(dataset[4].content == "a1");
  CHECK(dataset[5].content == "u2");
  CHECK(ws::message_text(dataset) == "sys\nu0\na0\nu1\na1\nu2");

  // Live history: the replies received replace the dataset's, as far as they go.
  const std::vector<std::string> live{"LIVE0"};
  const auto mixed = ws::turn_messages(s, 2, live);
  CHECK(mixed[2].content == "LIVE0");
  CHECK(mixed[4].content == "a1");

  s.system.clear();
  CHECK(roles(ws::turn_messages(s, 1)) == std::vector<std::string>{"user", "assistant", "user"});
  CHECK_THROWS_AS(ws::turn_messages(s, 3), std::out_of_range);
}

TEST_CASE("sessions: bad conversations name file:line and the reason", "[workload][session]") {
  auto msg = parse_fail(R"({"conversations": [{"from": "gpt", "value": "hi"}]})", error::wrong_field_type);
  CHECK(msg == "chat.jsonl:1: conversations[0] is an assistant message before any user message");
  msg = parse_fail("{\"conversations\": [{\"from\": \"human\", \"value\": \"x\"}]}\n"
                   R"({"conversations": [{"from": "system", "value": "only a system prompt"}]})",
                   error::empty_input);
  CHECK(msg.rfind("chat.jsonl:2: the conversation has no user turn", 0) == 0);
  msg = parse_fail(R"({"conversations": []})", error::empty_input);
  CHECK(msg.find("no user turn") != std::string::npos);
  msg = parse_fail(R"({"prompt": "x"})", error::missing_field);
  CHECK(msg.find("neither \"conversations\" (ShareGPT) nor \"messages\" (OpenAI)") != std::string::npos);
  CHECK(msg.find("\"prompt\"") != std::string::npos);
  msg = parse_fail(R"({"conversations": {"from": "human"}})", error::wrong_field_type);
  CHECK(msg == "chat.jsonl:1: \"conversations\" is an object, expected an array");
  msg = parse_fail(R"({"conversations": [{"from": "human", "value": 3}]})", error::wrong_field_type);
  CHECK(msg == "chat.jsonl:1: conversations[0].value is a number, expected a string");
  msg = parse_fail(R"({"messages": [{"role": "tool", "content": "x"}]})", error::wrong_field_type);
  CHECK(msg.find("messages[0] is said by \"tool\"") != std::string::npos);
  msg = parse_fail(R"({"messages": [{"role": "user"}]})", error::missing_field);
  CHECK(msg == "chat.jsonl:1: messages[0] has no \"content\"");
  msg = parse_fail(R"({"id": [1], "messages": [{"role": "user", "content": "x"}]})", error::wrong_field_type);
  CHECK(msg.find("\"id\" is an array") != std::string::npos);
  msg = parse_fail(R"({"messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "late"}]})",
                   error::wrong_field_type);
  CHECK(msg.find("system message after the first user message") != std::string::npos);
  parse_fail("[1, 2]", error::invalid_json);
}

TEST_CASE("sessions: skip_bad_lines counts and names the bad ones; max_prompts caps sessions",
          "[workload][session]") {
  const std::string text = "{\"conversations\": [{\"from\": \"human\", \"value\": \"a\"}]}\n"
                           "{\"conversations\": [{\"from\": \"gpt\", \"value\": \"b\"}]}\n"
                           "not json\n"
                           "{\"messages\": [{\"role\": \"user\", \"content\": \"c\"}]}\n";
  ws::dataset_config config;
  config.skip_bad_lines = true;
  const auto d = parse_ok(text, config);
  REQUIRE(d.sessions.size() == 2);
  CHECK(d.sessions[1].line == 4);
  CHECK(d.lines == 4);
  CHECK(d.skipped == 2);
  REQUIRE(d.skip_reasons.size() == 2);
  CHECK(d.skip_reasons[0].rfind("chat.jsonl:2: ", 0) == 0);
  CHECK(d.skip_reasons[1].rfind("chat.jsonl:3: invalid JSON", 0) == 0);
  config.max_prompts = 1;
  CHECK(parse_ok(text, config).sessions.size() == 1);
}

TEST_CASE("sessions: the ShareGPT writer's output reads back the same, from a file", "[workload][session]") {
  std::vector<ws::session> in(2);
  in[0].id = "x\"1";
  in[0].system = "sys";
  in[0].turns = {{"u0", ""}, {"u1", "a1"}, {"u2", ""}};  // an empty reply mid-conversation stays a turn
  in[1].id = "7";
  in[1].turns = {{"only", "reply"}};
  const std::string text = ws::to_sharegpt_jsonl(in);
  const auto file = std::filesystem::temp_directory_path() / "pswm_session_roundtrip.jsonl";
  std::ofstream(file, std::ios::binary) << text;
  planetserve::diagnostics diag;
  auto d = ws::read_sessions(file, {}, diag);
  std::filesystem::remove(file);
  INFO(diag.message);
  REQUIRE(d.has_value());
  REQUIRE(d->sessions.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& a = in[i];
    const auto& b = d->sessions[i];
    CHECK(b.id == a.id);
    CHECK(b.system == a.system);
    REQUIRE(b.turns.size() == a.turns.size());
    for (std::size_t k = 0; k < a.turns.size(); ++k) {
      CHECK(b.turns[k].user == a.turns[k].user);
      CHECK(b.turns[k].assistant == a.turns[k].assistant);
    }
  }
  diag.clear();
  CHECK(ws::read_sessions("/nonexistent/chat.jsonl", {}, diag).error() == make_error_code(error::file_not_found));
  CHECK(diag.message == "/nonexistent/chat.jsonl: no such file");
}
