// SPDX-License-Identifier: MIT
// Tests for goodput: parsing the bounds, the per-request test, and the summary's goodput figures.
#include <planetserve/experiment/goodput.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/summary.hpp>

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <vector>

namespace ex = planetserve::experiment;

namespace {

ex::request_record done(double sent, double first, double fin, std::uint32_t completion) {
  ex::request_record r;
  r.scheduled_s = sent;
  r.sent_s = sent;
  r.first_token_s = first;
  r.finished_s = fin;
  r.completion_tokens = completion;
  r.prompt_tokens = 10;
  r.ok = true;
  r.node = 0;
  return r;
}

ex::goodput_spec parsed(std::string_view text) {
  planetserve::diagnostics diag;
  auto g = ex::parse_goodput(text, diag);
  INFO(diag.message);
  REQUIRE(g.has_value());
  return *g;
}

std::string parse_error(std::string_view text) {
  planetserve::diagnostics diag;
  auto g = ex::parse_goodput(text, diag);
  REQUIRE_FALSE(g.has_value());
  CHECK(g.error() == planetserve::make_error_code(planetserve::error::invalid_argument));
  return diag.message;
}

}  // namespace

TEST_CASE("goodput: parses vLLM's KEY:MS pairs, comma- or space-separated", "[experiment][goodput]") {
  const auto all = parsed("ttft:500,tpot:50,e2el:2000.5");
  CHECK(all.ttft_ms == 500.0);
  CHECK(all.tpot_ms == 50.0);
  CHECK(all.e2el_ms == 2000.5);
  const auto spaced = parsed("ttft:500 tpot:50 ");
  CHECK(spaced.ttft_ms == 500.0);
  CHECK(spaced.tpot_ms == 50.0);
  CHECK_FALSE(spaced.e2el_ms.has_value());
  CHECK(ex::to_string(spaced) == "ttft:500,tpot:50");
  CHECK(ex::to_string(parsed("e2el:0.25, ttft:1")) == "ttft:1,e2el:0.25");
}

TEST_CASE("goodput: bad bounds name the pair and what is wrong", "[experiment][goodput]") {
  const auto unknown = parse_error("ttft:500,itl:20");
  CHECK_THAT(unknown, Catch::Contains("unknown key 'itl'"));
  CHECK_THAT(unknown, Catch::Contains("ttft, tpot and e2el"));
  CHECK_THAT(parse_error("ttft:fast"), Catch::Contains("'ttft:fast' must be a number of milliseconds"));
  CHECK_THAT(parse_error("tpot:-5"), Catch::Contains("'tpot:-5' must be a number"));
  CHECK_THAT(parse_error("ttft:5ms"), Catch::Contains("'ttft:5ms'"));
  CHECK_THAT(parse_error("ttft"), Catch::Contains("'ttft' is not KEY:MS"));
  CHECK_THAT(parse_error("ttft:1,ttft:2"), Catch::Contains("'ttft' is given twice"));
  CHECK_THAT(parse_error(" , "), Catch::Contains("no KEY:MS pair"));
}

TEST_CASE("goodput: a request is good when it completed within every given bound", "[experiment][goodput]") {
  // ttft 200 ms, tpot (1.2 - 0.2) / 10 = 100 ms, e2e 1200 ms.
  const auto r = done(0.0, 0.2, 1.2, 11);
  CHECK(ex::meets_goodput(r, parsed("ttft:200")));  // the bound itself is met
  CHECK_FALSE(ex::meets_goodput(r, parsed("ttft:199")));
  CHECK(ex::meets_goodput(r, parsed("tpot:100.5,e2el:1200")));
  CHECK_FALSE(ex::meets_goodput(r, parsed("ttft:500,tpot:99")));
  CHECK_FALSE(ex::meets_goodput(r, parsed("e2el:1199")));
  // One output token: no TPOT, so the TPOT bound does not exclude it.
  CHECK(ex::meets_goodput(done(0.0, 0.1, 0.1, 1), parsed("tpot:1")));
  auto failed = r;
  failed.ok = false;
  CHECK_FALSE(ex::meets_goodput(failed, parsed("e2el:100000")));
  auto no_first = r;
  no_first.first_token_s = ex::missing;
  CHECK_FALSE(ex::meets_goodput(no_first, parsed("ttft:100000")));
}

TEST_CASE("goodput: summary counts good requests over the run's duration", "[experiment][goodput]") {
  std::vector<ex::request_record> recs = {
      done(0.0, 0.2, 1.2, 11),  // ttft 200, tpot 100, e2e 1200
      done(1.0, 1.6, 2.0, 5),   // ttft 600, tpot 100, e2e 1000
      done(2.0, 2.1, 2.3, 1),   // ttft 100, no tpot, e2e 300
  };
  ex::request_record lost;
  lost.sent_s = lost.scheduled_s = 3.0;
  lost.finished_s = 4.0;  // the run lasts 0 .. 4 s
  lost.error_kind = "timeout";
  recs.push_back(lost);

  const auto none = ex::summarize(recs, {});
  CHECK_FALSE(none.goodput.has_value());
  CHECK_FALSE(none.good_requests.has_value());
  const auto none_json = boost::json::parse(ex::summary_json(none)).as_object();
  CHECK_FALSE(none_json.contains("goodput"));
  CHECK_FALSE(none_json.contains("good_requests"));
  CHECK(ex::summary_text(none).find("Goodput") == std::string::npos);

  const auto ttft = ex::summarize(recs, {}, parsed("ttft:500"));
  REQUIRE(ttft.duration_s == Approx(4.0));
  CHECK(ttft.good_requests == 2u);  // the first and third
  CHECK(*ttft.goodput == Approx(0.5));
  const auto both = ex::summarize(recs, {}, parsed("ttft:500,tpot:50"));
  CHECK(both.good_requests == 1u);  // only the one-token request
  CHECK(*both.goodput == Approx(0.25));
  const auto e2e = ex::summarize(recs, {}, parsed("e2el:1000"));
  CHECK(e2e.good_requests == 2u);  // the second (exactly 1000 ms) and third

  const auto j = boost::json::parse(ex::summary_json(ttft)).as_object();
  CHECK(j.at("goodput").to_number<double>() == Approx(0.5));
  CHECK(j.at("good_requests").to_number<std::size_t>() == 2u);
  CHECK(j.at("goodput_bounds").as_string() == "ttft:500");
  CHECK_THAT(ex::summary_text(ttft), Catch::Contains("Goodput (req/s)") && Catch::Contains("0.500 (2 meet ttft:500)"));

  auto a = ttft, b = both;
  a.policy = "rr";
  b.policy = "lb";
  const std::vector<ex::run_summary> runs{a, b};
  const auto table = ex::comparison_text(runs);
  CHECK_THAT(table, Catch::Contains("goodput (req/s)") && Catch::Contains("0.500") && Catch::Contains("0.250"));
  const auto cj = boost::json::parse(ex::comparison_json(runs)).as_object();
  CHECK(cj.at("policies").as_array().at(1).as_object().at("good_requests").to_number<std::size_t>() == 1u);
  const std::vector<ex::run_summary> plain{none};
  CHECK(ex::comparison_text(plain).find("goodput") == std::string::npos);
}
