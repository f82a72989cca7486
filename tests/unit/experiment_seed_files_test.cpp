// SPDX-License-Identifier: MIT
// Tests that pswm's experiment_results.json and throughput_records.json read as the seed's summarize_results reads them.
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/seed_summary.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace ex = planetserve::experiment;

namespace {

template <class R>
bool has(const R& r) {
  return r.has_value();
}

ex::node_sample counters_at(double t, double prompt, double gen, double success, double kv) {
  ex::node_sample s;
  s.t_s = t;
  s.snap.prompt_tokens = prompt;
  s.snap.generation_tokens = gen;
  s.snap.request_success = success;
  s.snap.kv_cache_usage = kv;
  s.snap.prefix_cache_queries = 10 * t;
  s.snap.prefix_cache_hits = 5 * t;  // cumulative ratio 0.5 from the first query on
  s.snap.ttft_sum = 0.1 * t;
  s.snap.ttft_count = t;             // cumulative mean TTFT 0.1 s
  s.snap.tpot_sum = 0.02 * t;
  s.snap.tpot_count = t;             // cumulative mean TPOT 0.02 s
  return s;
}

}  // namespace

TEST_CASE("seed files: summarize_results' numbers from hand-made files", "[experiment][seed]") {
  // Latencies 1..5: mean 3, numpy's linear p99 = 4 + 0.96 * 1. Records: request 0 has TPOT
  // values .1 and .3 (mean .2), request 1 has .4; request 2 none (skipped, as the seed's
  // `if r.get(...)`). Arrivals 10, 10.5, 12 -> gaps .5 and 1.5.
  const std::string results = R"([
    {"query_id": "chatcmpl-1", "generation_time": 1, "absolute_start": 10,
     "time_per_output_token_records": [[0.0, 0.1], [0.1, 0.3]], "time_to_first_token_records": [[0, 2]],
     "prefix_usage_records": [[0, 0.5], [0.1, 1.0]], "usage_records": []},
    {"query_id": "chatcmpl-2", "generation_time": 2, "absolute_start": 12,
     "time_per_output_token_records": [[0, 0.4]], "time_to_first_token_records": [[0, 4]],
     "prefix_usage_records": [[0, 0.25]], "usage_records": [[0, 0.5]]},
    {"query_id": "unknown", "generation_time": 3, "absolute_start": 10.5,
     "time_per_output_token_records": [], "time_to_first_token_records": [], "prefix_usage_records": []},
    {"generation_time": 4, "absolute_start": 13}, {"generation_time": 5, "absolute_start": 14}
  ])";
  const std::string throughput = R"([
    {"elapsed": 1.0, "prompt_tokens": 100, "gen_tokens": 10, "request_success": 0},
    {"elapsed": 2.0, "prompt_tokens": 150, "gen_tokens": 20, "request_success": 1},
    {"elapsed": 5.0, "prompt_tokens": 400, "gen_tokens": 110, "request_success": 6}
  ])";
  planetserve::diagnostics diag;
  auto s = ex::summarize_seed_files(results, throughput, diag);
  INFO(diag.message);
  REQUIRE(s.has_value());
  CHECK(s->computed);
  CHECK(s->requests == 5);
  CHECK(s->avg_latency_s == 3.0);
  CHECK(s->p99_latency_s == Approx(4.96));
  CHECK(s->tpot_s == Approx(0.3));   // mean of .2 and .4
  CHECK(s->ttft_s == Approx(3.0));   // mean of 2 and 4
  CHECK(s->prefix_hit_rate == Approx((0.75 + 0.25) / 2));
  CHECK(s->inter_arrival_s == Approx(1.0));  // sorted 10, 10.5, 12, 13, 14
  CHECK(s->token_throughput == Approx((510.0 - 110.0) / 4.0));  // prompt + generated, first to last
  CHECK(s->request_throughput == Approx(6.0 / 4.0));
}

TEST_CASE("seed files: shapes the seed cannot unpack are errors naming the request and field", "[experiment][seed]") {
  planetserve::diagnostics diag;
  // pswm's earlier shape: plain values where the seed unpacks (elapsed, value).
  auto plain = ex::summarize_seed_files(
      R"([{"generation_time": 1, "absolute_start": 1, "usage_records": [0.5]}])", "[]", diag);
  REQUIRE_FALSE(plain.has_value());
  CHECK(diag.message.find("experiment_results.json[0].usage_records[0]") != std::string::npos);
  CHECK_FALSE(has(ex::summarize_seed_files(R"([{"generation_time": null, "absolute_start": 1}])", "[]", diag)));
  CHECK(diag.message.find("generation_time") != std::string::npos);
  CHECK_FALSE(has(ex::summarize_seed_files(R"([{"generation_time": 1, "absolute_start": 1,
      "prefix_usage_records": [[0, null]]}])", "[]", diag)));
  CHECK_FALSE(has(ex::summarize_seed_files("[]", R"([{"elapsed": 0, "prompt_tokens": 1, "gen_tokens": 1}])", diag)));
  CHECK(diag.message.find("throughput_records.json[0].request_success") != std::string::npos);
  CHECK_FALSE(has(ex::summarize_seed_files("{}", "[]", diag)));
  CHECK(diag.message.find("experiment_results.json") != std::string::npos);
}

TEST_CASE("seed files: pswm's own files read as the seed reads them, numbers from the counters", "[experiment][seed]") {
  std::vector<ex::node_timeline> tls(1);
  tls[0].name = "node_0";
  tls[0].url = "http://127.0.0.1:8000";
  tls[0].samples = {counters_at(0, 1000, 500, 7, 0.0), counters_at(1, 1100, 510, 7, 0.25),
                    counters_at(2, 1300, 530, 8, 0.5), counters_at(3, 1600, 560, 9, 0.5)};
  std::vector<ex::request_record> recs(2);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    auto& r = recs[i];
    r.query_id = i;
    r.node = 0;
    r.sent_s = r.scheduled_s = 0.5 + static_cast<double>(i);
    r.first_token_s = r.sent_s + 0.1;
    r.finished_s = r.sent_s + 1.0;
    r.absolute_start = 1700000000.0 + r.sent_s;
    r.ok = true;
    r.completion_tokens = 10;
    r.response_id = "chatcmpl-" + std::to_string(i);
  }
  const auto results = ex::experiment_results_json(recs, tls);
  const auto throughput = ex::throughput_records_json(tls, 1.0);
  planetserve::diagnostics diag;
  auto s = ex::summarize_seed_files(results, throughput, diag);
  INFO(diag.message);
  REQUIRE(s.has_value());
  CHECK(s->requests == 2);
  CHECK(s->avg_latency_s == Approx(1.0));
  // Counters grow by 600 prompt + 60 generated tokens and 2 requests over 3 s.
  CHECK(s->token_throughput == Approx(660.0 / 3.0));
  CHECK(s->request_throughput == Approx(2.0 / 3.0));
  CHECK(s->inter_arrival_s == Approx(1.0));
  // Request 0's scrapes: t=0 (before the send: no queries yet, 0.0), 1; request 1's: 1, 2.
  CHECK(s->prefix_hit_rate == Approx((0.25 + 0.5) / 2));
  CHECK(s->tpot_s == Approx((0.01 + 0.02) / 2));
  CHECK(s->ttft_s == Approx((0.05 + 0.1) / 2));
}

TEST_CASE("seed files: throughput records' elapsed is tick x index, without drift", "[experiment][seed]") {
  std::vector<ex::node_timeline> tls(1);
  tls[0].name = "node_0";
  tls[0].samples = {counters_at(0, 0, 0, 0, 0), counters_at(33.5, 10, 1, 1, 0)};
  planetserve::diagnostics diag;
  const auto text = ex::throughput_records_json(tls, 0.1);
  // A running sum of 0.1 reaches 33.500000000000206 here; 335 x 0.1 is 33.5.
  const auto rows = boost::json::parse(text).as_array();
  REQUIRE(rows.size() == 336);
  CHECK(rows.back().as_object().at("elapsed").as_double() == 33.5);
  auto s = ex::summarize_seed_files("[]", text, diag);
  REQUIRE(s.has_value());
  CHECK(s->token_throughput == Approx(11.0 / 33.5));
}
