// SPDX-License-Identifier: MIT
// Tests of predicted against reported cached tokens: the policies' predictions, the error
// and hit/miss table from hand-made records, and how unreported counts stay empty.
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/experiment/cache_prediction.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/run_charts.hpp>
#include <planetserve/experiment/summary.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace d = planetserve::dispatch;
namespace ex = planetserve::experiment;
namespace json = boost::json;
using planetserve::tokenize::token_id;

ex::request_record rec(std::optional<std::uint32_t> predicted, std::optional<std::uint32_t> cached, bool ok = true) {
  ex::request_record r;
  r.ok = ok;
  r.node = 0;
  r.sent_s = 0;
  r.first_token_s = 0.1;
  r.finished_s = 0.2;
  r.prompt_tokens = 100;
  r.completion_tokens = 4;
  r.usage_reported = true;
  r.predicted_cached_tokens = predicted;
  r.cached_tokens = cached;
  return r;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

/// `blocks` blocks of 16 tokens, block i being its value repeated, then `tail` more tokens.
std::vector<token_id> prompt(std::initializer_list<token_id> blocks, std::size_t tail = 0) {
  std::vector<token_id> v;
  for (const auto b : blocks) v.insert(v.end(), 16, b);
  v.insert(v.end(), tail, 999);
  return v;
}

std::optional<std::uint32_t> route(d::policy& p, const std::vector<token_id>& tokens) {
  const d::request_view req{tokens};
  const auto dec = p.choose(req);
  REQUIRE(dec.has_node());
  p.on_dispatched(dec.node, req);
  return p.predicted_cached_tokens(dec, tokens.size());
}

}  // namespace

TEST_CASE("cache prediction: MAE, bias and the hit table over completed requests with both counts", "[cache-prediction]") {
  const std::vector<ex::request_record> rs = {
      rec(32, 32),                // hit/hit, error 0
      rec(48, 0),                 // hit/miss, +48
      rec(0, 16),                 // miss/hit, -16
      rec(0, 0),                  // miss/miss, 0
      rec(16, std::nullopt),      // predicted, not reported: not compared
      rec(std::nullopt, 32),      // reported, no prediction: not compared
      rec(64, 0, /*ok=*/false),   // failed: left out
  };
  const auto c = ex::measure_cache_prediction(rs);
  CHECK(c.predicted == 5);
  CHECK(c.reported == 5);
  CHECK(c.compared == 4);
  CHECK(c.mae_tokens == Approx(16.0));   // (0 + 48 + 16 + 0) / 4
  CHECK(c.bias_tokens == Approx(8.0));   // (0 + 48 - 16 + 0) / 4
  CHECK(c.hit_hit == 1);
  CHECK(c.hit_miss == 1);
  CHECK(c.miss_hit == 1);
  CHECK(c.miss_miss == 1);

  // The summary carries it into summary.json, the printed summary and the comparison.
  auto s = ex::summarize(rs, {});
  s.policy = "lb";
  const auto j = json::parse(ex::summary_json(s)).as_object();
  const auto& p = j.at("cache_prediction").as_object();
  CHECK(p.at("mae_tokens").to_number<double>() == Approx(16.0));
  CHECK(p.at("bias_tokens").to_number<double>() == Approx(8.0));
  CHECK(p.at("compared").to_number<int>() == 4);
  CHECK(p.at("hit_table").as_object().at("hit_miss").to_number<int>() == 1);
  const auto text = ex::summary_text(s);
  CHECK(text.find("16.0 / +8.0") != std::string::npos);
  CHECK(text.find("1, 1, 1, 1") != std::string::npos);
  CHECK(text.find("reported no cached tokens") == std::string::npos);
  auto rr = ex::summarize(std::vector<ex::request_record>{rec(std::nullopt, 0)}, {});
  rr.policy = "rr";
  const std::vector<ex::run_summary> both = {s, rr};
  const auto cmp = ex::comparison_text(both);
  CHECK(cmp.find("cached-token MAE (tok)        16.0") != std::string::npos);
  CHECK(cmp.find("1/1/1/1") != std::string::npos);
  const auto cj = json::parse(ex::comparison_json(both)).as_object().at("policies").as_array();
  CHECK(cj.at(1).as_object().at("cache_prediction").as_object().at("mae_tokens").is_null());
}

TEST_CASE("cache prediction: servers that report nothing leave every figure empty, said once", "[cache-prediction]") {
  const std::vector<ex::request_record> rs = {rec(32, std::nullopt), rec(0, std::nullopt), rec(16, std::nullopt)};
  auto s = ex::summarize(rs, {});
  CHECK(s.prediction.predicted == 3);
  CHECK(s.prediction.compared == 0);
  CHECK(std::isnan(s.prediction.mae_tokens));
  CHECK(std::isnan(s.prediction.bias_tokens));
  CHECK(std::isnan(s.client_cached_ratio));  // not 0: nobody said
  const auto j = json::parse(ex::summary_json(s)).as_object();
  CHECK(j.at("client_cached_ratio").is_null());
  const auto& p = j.at("cache_prediction").as_object();
  CHECK(p.at("mae_tokens").is_null());
  CHECK(p.at("bias_tokens").is_null());
  CHECK(p.at("hit_table").is_null());
  CHECK(occurrences(ex::summary_text(s), "reported no cached tokens") == 1);
}

TEST_CASE("cache prediction: a missing details block is a miss only on a node that reports hits", "[cache-prediction]") {
  std::vector<ex::request_record> rs = {rec(16, 32), rec(16, std::nullopt), rec(0, std::nullopt), rec(0, std::nullopt)};
  rs[2].node = 1;  // node 1 never reported any: its server may have the details off
  rs[3].usage_reported = false;  // no usage block at all: nothing to read
  ex::fill_unreported_misses(rs);
  CHECK(rs[0].cached_tokens == 32u);
  REQUIRE(rs[1].cached_tokens.has_value());
  CHECK(*rs[1].cached_tokens == 0);
  CHECK_FALSE(rs[2].cached_tokens.has_value());
  CHECK_FALSE(rs[3].cached_tokens.has_value());
}

TEST_CASE("cache prediction: requests.jsonl keeps unreported as null and 0 as 0", "[cache-prediction]") {
  for (const auto& [predicted, cached] : std::vector<std::pair<std::optional<std::uint32_t>, std::optional<std::uint32_t>>>{
           {24, std::nullopt}, {std::nullopt, 0}, {0, 48}}) {
    const auto line = ex::record_line(rec(predicted, cached));
    const auto o = json::parse(line).as_object();
    CHECK(o.at("cached_tokens").is_null() == !cached.has_value());
    CHECK(o.at("predicted_cached_tokens").is_null() == !predicted.has_value());
    planetserve::diagnostics diag;
    auto back = ex::parse_record_line(line, diag);
    REQUIRE(back.has_value());
    CHECK(back->cached_tokens == cached);
    CHECK(back->predicted_cached_tokens == predicted);
    const auto results = json::parse(ex::experiment_results_json(std::vector<ex::request_record>{rec(predicted, cached)}, {}));
    const auto& r0 = results.as_array().at(0).as_object();
    CHECK(r0.at("cached_tokens").is_null() == !cached.has_value());
    CHECK(r0.at("predicted_cached_tokens").is_null() == !predicted.has_value());
  }
}

TEST_CASE("cache prediction: prefix policies predict matched blocks in tokens, others nothing", "[cache-prediction]") {
  d::policy_config c;
  c.nodes = 1;
  c.seed = 1;
  SECTION("lb: matched blocks x 16") {
    auto p = d::make_policy("lb", c);
    CHECK(route(*p, prompt({1, 2, 3}, 5)) == 0u);
    CHECK(route(*p, prompt({1, 2, 9}, 5)) == 32u);
    CHECK(route(*p, prompt({1, 2, 3})) == 48u);
  }
  SECTION("hrt and cache-aware predict too") {
    for (const char* name : {"hrt", "cache-aware"}) {
      auto p = d::make_policy(name, c);
      route(*p, prompt({4, 5}));
      CHECK(route(*p, prompt({4, 7})) == 16u);
    }
  }
  SECTION("rr explains matches but routes without them: no prediction") {
    REQUIRE(c.explain_matches);
    auto p = d::make_policy("rr", c);
    route(*p, prompt({1, 2}));
    const auto tokens = prompt({1, 2});
    const auto dec = p->choose(d::request_view{tokens});
    CHECK(dec.chosen_match() == 2);  // it knows, but its choice did not rest on it
    CHECK_FALSE(p->predicted_cached_tokens(dec, tokens.size()).has_value());
  }
  SECTION("the seed's lb: chunks of 10 tokens, the short last one capped at the prompt") {
    c.lb.compat = d::lb_compat::seed;
    c.tree.chunk_tokens = 10;
    auto p = d::make_policy("lb", c);
    const std::vector<token_id> tokens(25, 7);  // chunks of 10, 10 and 5
    route(*p, tokens);
    CHECK(route(*p, tokens) == 25u);
  }
}

TEST_CASE("cache prediction: the figure plots predicted against reported, only when some request has both", "[cache-prediction]") {
  const std::vector<ex::request_record> rs = {rec(32, 16), rec(48, std::nullopt), rec(0, 64), rec(80, 80, false)};
  const auto charts = ex::run_charts(rs, {}, 1.0);
  const auto it = std::find_if(charts.begin(), charts.end(), [](const auto& c) { return c.name == "cache_prediction"; });
  REQUIRE(it != charts.end());
  REQUIRE(it->series.size() == 2);
  CHECK(it->series[0].points == std::vector<std::pair<double, double>>{{32, 16}, {0, 64}});
  CHECK(it->series[1].points == std::vector<std::pair<double, double>>{{0, 0}, {64, 64}});
  const auto none = ex::run_charts(std::vector<ex::request_record>{rec(32, std::nullopt)}, {}, 1.0);
  CHECK(std::none_of(none.begin(), none.end(), [](const auto& c) { return c.name == "cache_prediction"; }));
}
