// SPDX-License-Identifier: MIT
// Multi-turn conversations in the epoch core: turn k waits for turn k-1's reply plus a think
// time; its history holds the received replies (live) or the dataset's.
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/experiment/epoch_core.hpp>
#include <planetserve/experiment/session_source.hpp>
#include <planetserve/experiment/summary.hpp>
#include <planetserve/tokenize/approx_tokenizer.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace ex = planetserve::experiment;
namespace dp = planetserve::dispatch;
namespace wl = planetserve::workload;
using namespace std::chrono_literals;

namespace {

std::vector<wl::session> two_sessions() {
  wl::session a;
  a.id = "alpha";
  a.system = "You are terse.";
  a.turns = {{"first question", "dataset answer one"}, {"second question", "dataset answer two"}, {"third", ""}};
  a.line = 1;
  wl::session b;
  b.id = "beta";
  b.turns = {{"hello", "hi"}, {"bye", ""}};
  b.line = 2;
  return {a, b};
}

struct session_harness {
  std::vector<wl::session> sessions = two_sessions();
  planetserve::tokenize::approx_tokenizer tok;
  ex::session_source source;
  dp::policy_config pc;
  std::unique_ptr<dp::policy> policy;
  ex::epoch_core core;
  ex::epoch_time now{0};
  std::vector<std::pair<ex::epoch_time, std::size_t>> sends;

  static dp::policy_config config() {
    dp::policy_config c;
    c.nodes = 2;
    return c;
  }
  static ex::think_time_spec one_second() {
    ex::think_time_spec t;
    t.a = 1.0;
    return t;
  }
  explicit session_harness(ex::history_mode history)
      : source(sessions, {0ms, 500ms}, [] {
          planetserve::openai::request_options o;
          o.model = "m";
          o.max_tokens = 8;
          return o;
        }(), true, tok, history, one_second(), 1),
        pc(config()),
        policy(dp::make_policy("session", pc)),
        core({}, *policy, source, {"node_0", "node_1"}, 0) {}

  void drain() {
    while (auto a = core.pop_action())
      if (a->what == ex::epoch_action::kind::send) sends.push_back({now, a->request});
  }
  void run_until(ex::epoch_time t) {
    while (auto w = core.next_wake()) {
      if (*w > t) break;
      now = std::max(now, *w);
      core.advance(now);
      drain();
    }
    now = t;
    core.advance(now);
    drain();
  }
  void reply(std::size_t i, std::string text) {
    ex::attempt_result a;
    a.sent_s = 0;
    a.first_token_s = 0.01;
    a.finished_s = std::chrono::duration<double>(now).count();
    a.http_status = 200;
    a.ok = true;
    a.reply = std::move(text);
    core.on_attempt_end(i, std::move(a), now);
    drain();
  }
};

}  // namespace

TEST_CASE("sessions: turn k is sent its predecessor's reply plus the think time later", "[sessions]") {
  session_harness h(ex::history_mode::live);
  REQUIRE(h.source.size() == 5);  // alpha: 0,1,2; beta: 3,4
  h.core.start(0ms, 0);
  h.drain();
  h.run_until(600ms);
  REQUIRE(h.sends.size() == 2);  // the two first turns only
  CHECK(h.sends[0].second == 0);
  CHECK(h.sends[1] == std::pair{ex::epoch_time(500ms), std::size_t{3}});
  h.now = 2s;
  h.reply(0, "LIVE REPLY");
  h.run_until(2900ms);
  CHECK(h.sends.size() == 2);  // thinking
  h.run_until(3s);
  REQUIRE(h.sends.size() == 3);
  CHECK(h.sends[2] == std::pair{ex::epoch_time(3s), std::size_t{1}});
  // The live reply is in turn 2's prompt, after the system message and turn 1's question.
  const std::string body(h.source.body(1));
  CHECK(body.find("LIVE REPLY") != std::string::npos);
  CHECK(body.find("dataset answer one") == std::string::npos);
  CHECK(body.find("You are terse.") < body.find("first question"));
  // Both turns of a session go to the same node under `session`.
  h.reply(3, "x");
  h.reply(1, "y");
  h.run_until(10s);
  h.reply(4, "z");
  h.reply(2, "w");
  const auto recs = h.core.take_records();
  REQUIRE(recs.size() == 5);
  CHECK(recs[0].session_id == "alpha");
  CHECK(recs[2].turn == 3);
  CHECK(recs[1].node == recs[0].node);
  CHECK(recs[4].node == recs[3].node);
  CHECK(recs[1].scheduled_s == Approx(3.0));
}

TEST_CASE("sessions: --history dataset puts the dataset's replies in the history", "[sessions]") {
  session_harness h(ex::history_mode::dataset);
  h.core.start(0ms, 0);
  h.drain();
  h.now = 1s;
  h.reply(0, "LIVE REPLY");
  h.run_until(2s);
  const std::string body(h.source.body(1));
  CHECK(body.find("dataset answer one") != std::string::npos);
  CHECK(body.find("LIVE REPLY") == std::string::npos);
  CHECK_FALSE(h.source.keeps_reply(0));
}

TEST_CASE("sessions: think times parse, and bad ones say what is wrong", "[sessions]") {
  planetserve::diagnostics diag;
  auto t = ex::parse_think_time("2.5", diag);
  REQUIRE(t.has_value());
  CHECK(t->law == ex::think_time_spec::shape::constant);
  CHECK(t->a == 2.5);
  t = ex::parse_think_time("exp:3", diag);
  REQUIRE(t.has_value());
  CHECK(t->law == ex::think_time_spec::shape::exponential);
  t = ex::parse_think_time("uniform:1:4", diag);
  REQUIRE(t.has_value());
  CHECK(ex::to_string(*t) == "uniform:1:4");
  CHECK(diag.empty());
  for (const char* bad : {"", "-1", "exp:", "uniform:4:1", "gauss:1", "1s", "nan"}) {
    INFO(bad);
    diag.clear();
    const auto r = ex::parse_think_time(bad, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == planetserve::error::invalid_argument);
    CHECK(diag.message.find("is not a think time") != std::string::npos);
    CHECK(diag.message.find("exp:5") != std::string::npos);
  }
}

TEST_CASE("sessions: the summary has TTFT and hit ratio by turn", "[sessions]") {
  std::vector<ex::request_record> rs(4);
  for (std::size_t i = 0; i < 4; ++i) {
    rs[i].ok = true;
    rs[i].usage_reported = true;
    rs[i].sent_s = 0;
    rs[i].prompt_tokens = 100;
    rs[i].turn = i < 2 ? 1 : 2;
    rs[i].first_token_s = i < 2 ? 0.2 : 0.05;
    rs[i].cached_tokens = i < 2 ? 0u : 80u;
  }
  const auto turns = ex::summarize_turns(rs);
  REQUIRE(turns.size() == 2);
  CHECK(turns[0].ttft_mean_s == Approx(0.2));
  CHECK(turns[1].ttft_mean_s == Approx(0.05));
  CHECK(turns[0].cached_ratio == Approx(0.0));
  CHECK(turns[1].cached_ratio == Approx(0.8));
  rs[0].turn = rs[1].turn = rs[2].turn = rs[3].turn = 0;
  CHECK(ex::summarize_turns(rs).empty());
}
