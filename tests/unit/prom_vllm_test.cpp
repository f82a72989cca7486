// SPDX-License-Identifier: MIT
// Tests for the vLLM metric model: snapshots of generated V1/V0 pages, name preferences, intervals.
#include "prom_test_data.hpp"
#include <planetserve/prom/parser.hpp>
#include <planetserve/prom/vllm_interval.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

using namespace planetserve;
using namespace planetserve::prom;

namespace {

using prom_test::read_page;

double num(const boost::json::object& o, const char* key) {
  return o.at(key).to_number<double>();
}

// The generator sums in a different order than the page's series; allow rounding only.
void check_close(double got, double want, const char* what) {
  INFO(what << ": got " << got << ", want " << want);
  CHECK(std::abs(got - want) <= 1e-9 * std::max(1.0, std::abs(want)));
}

void check_against_expected(const std::string& page_name, const vllm_snapshot& s) {
  const auto expected = boost::json::parse(read_page(page_name + ".expected.json")).as_object();
  INFO(page_name);
  check_close(s.kv_cache_usage, num(expected, "kv_cache_usage"), "kv_cache_usage");
  if (expected.at("generation").as_string() == "v0") {
    // V0 pages have no prefix-cache counters (only a gauge): absent reads NaN, not zero.
    CHECK(std::isnan(s.prefix_cache_queries));
    CHECK(std::isnan(s.prefix_cache_hits));
  } else {
    check_close(s.prefix_cache_queries, num(expected, "prefix_cache_queries"), "prefix_cache_queries");
    check_close(s.prefix_cache_hits, num(expected, "prefix_cache_hits"), "prefix_cache_hits");
  }
  check_close(s.ttft_sum, num(expected, "ttft_sum"), "ttft_sum");
  check_close(s.ttft_count, num(expected, "ttft_count"), "ttft_count");
  check_close(s.tpot_sum, num(expected, "tpot_sum"), "tpot_sum");
  check_close(s.tpot_count, num(expected, "tpot_count"), "tpot_count");
  check_close(s.e2e_sum, num(expected, "e2e_sum"), "e2e_sum");
  check_close(s.e2e_count, num(expected, "e2e_count"), "e2e_count");
  check_close(s.prompt_tokens, num(expected, "prompt_tokens"), "prompt_tokens");
  check_close(s.generation_tokens, num(expected, "generation_tokens"), "generation_tokens");
  check_close(s.request_success, num(expected, "request_success"), "request_success");
  check_close(s.num_running, num(expected, "num_running"), "num_running");
  check_close(s.num_waiting, num(expected, "num_waiting"), "num_waiting");
  REQUIRE(s.block_size);
  CHECK(*s.block_size == expected.at("block_size").as_int64());
  REQUIRE(s.num_gpu_blocks);
  CHECK(*s.num_gpu_blocks == expected.at("num_gpu_blocks").as_int64());
  CHECK(s.engines == static_cast<std::size_t>(expected.at("engines").as_int64()));
  CHECK(s.v1_engine_label == (expected.at("generation").as_string() == "v1"));
  CHECK(s.has_vllm());
}

}  // namespace

TEST_CASE("prom vllm: snapshots of generated pages match what the generator recorded", "[prom]") {
  for (const char* name : {"vllm_v1.prom", "vllm_v1_openmetrics.prom", "vllm_v1_dp2.prom",
                           "vllm_v1_multiprocess.prom", "vllm_v0.prom"}) {
    diagnostics diag;
    auto snap = parse_vllm_snapshot(read_page(name), &diag);
    INFO(name << ": " << diag.message);
    REQUIRE(snap.has_value());
    check_against_expected(name, *snap);
  }
}

TEST_CASE("prom vllm: current names win over their deprecated twins", "[prom]") {
  // The dp2 page carries gpu_cache_usage_perc = 0.999 and gpu_prefix_cache_* = current + 1 per
  // request, and every V1 page carries time_per_output_token = 2 × inter_token_latency.
  auto dp2 = parse_vllm_snapshot(read_page("vllm_v1_dp2.prom"));
  REQUIRE(dp2.has_value());
  CHECK(dp2->current_names);
  CHECK(dp2->legacy_names);
  CHECK(dp2->engines == 2);
  CHECK(dp2->kv_cache_usage < 0.99);
  auto v1 = parse_vllm_snapshot(read_page("vllm_v1.prom"));
  REQUIRE(v1.has_value());
  CHECK(v1->current_names);
  CHECK_FALSE(v1->legacy_names);
  CHECK_FALSE(v1->legacy_prefix_cache_hit_rate);
  CHECK(v1->tpot_sum > 0);
  CHECK(v1->tpot_sum < 0.06 * v1->tpot_count);  // ITL gaps are ≤ 0.09 s, TPOT copies ≥ 0.016
}

TEST_CASE("prom vllm: a V0 page reads the old names", "[prom]") {
  auto v0 = parse_vllm_snapshot(read_page("vllm_v0.prom"));
  REQUIRE(v0.has_value());
  CHECK(v0->legacy_names);
  CHECK_FALSE(v0->current_names);
  CHECK_FALSE(v0->v1_engine_label);
  REQUIRE(v0->legacy_prefix_cache_hit_rate);
  CHECK(*v0->legacy_prefix_cache_hit_rate == 0.42);
  CHECK(std::isnan(v0->prefix_cache_queries));  // V0 had only the gauge: the counters are absent
  CHECK(std::isnan(v0->prefix_cache_hit_ratio()));
  CHECK(v0->tpot_count > 0);  // from time_per_output_token_seconds
}

TEST_CASE("prom vllm: sums across engines and finished reasons, means KV usage", "[prom]") {
  const std::string page =
      "# TYPE vllm:kv_cache_usage_perc gauge\n"
      "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\n"
      "vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"m\"} 0.75\n"
      "# TYPE vllm:num_requests_running gauge\n"
      "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0\n"
      "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 4.0\n"
      "# TYPE vllm:request_success_total counter\n"
      "vllm:request_success_total{engine=\"0\",finished_reason=\"stop\",model_name=\"m\"} 5.0\n"
      "vllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"m\"} 6.0\n"
      "vllm:request_success_total{engine=\"1\",finished_reason=\"abort\",model_name=\"m\"} 7.0\n"
      "# TYPE vllm:time_per_output_token_seconds histogram\n"
      "vllm:time_per_output_token_seconds_sum{engine=\"0\",model_name=\"m\"} 2.0\n"
      "vllm:time_per_output_token_seconds_count{engine=\"0\",model_name=\"m\"} 40.0\n"
      "vllm:time_per_output_token_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} 40.0\n"
      "vllm:cache_config_info{block_size=\"32\",engine=\"0\",num_gpu_blocks=\"None\"} 1.0\n";
  auto s = parse_vllm_snapshot(page);
  REQUIRE(s.has_value());
  CHECK(s->kv_cache_usage == 0.5);
  CHECK(s->engines == 2);
  CHECK(s->num_running == 7);
  CHECK(s->request_success == 18);
  // Falls back to time_per_output_token when inter_token_latency is absent.
  CHECK(s->tpot_sum == 2.0);
  CHECK(s->tpot_count == 40.0);
  REQUIRE(s->block_size);
  CHECK(*s->block_size == 32);
  CHECK_FALSE(s->num_gpu_blocks);  // "None" before the engine has profiled memory
  CHECK(s->v1_engine_label);
}

TEST_CASE("prom vllm: a page without vLLM metrics, and a malformed page", "[prom]") {
  auto none = parse_vllm_snapshot("# TYPE process_open_fds gauge\nprocess_open_fds 6.0\n");
  REQUIRE(none.has_value());
  CHECK_FALSE(none->has_vllm());
  diagnostics diag;
  auto bad = parse_vllm_snapshot("vllm:num_requests_running 1\nvllm:num_requests_waiting x\n", &diag);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error() == make_error_code(error::invalid_number));
  CHECK(diag.message.rfind("line 2: ", 0) == 0);
}

TEST_CASE("prom vllm: a builder fed in chunks gives the one-call snapshot", "[prom]") {
  const std::string page = read_page("vllm_v1_dp2.prom");
  auto whole = parse_vllm_snapshot(page);
  REQUIRE(whole.has_value());
  vllm_snapshot_builder builder;
  parser p(builder);
  for (std::size_t at = 0; at < page.size(); at += 1000) p.feed(std::string_view(page).substr(at, 1000));
  REQUIRE_FALSE(p.finish());
  const auto chunked = builder.snapshot();
  CHECK(chunked.prompt_tokens == whole->prompt_tokens);
  CHECK(chunked.ttft_sum == whole->ttft_sum);
  CHECK(chunked.kv_cache_usage == whole->kv_cache_usage);
  // Reused for the next scrape after a reset.
  builder.reset();
  p.reset();
  p.feed("vllm:num_requests_waiting{engine=\"0\"} 9\n");
  REQUIRE_FALSE(p.finish());
  CHECK(builder.snapshot().num_waiting == 9);
  CHECK(builder.snapshot().prompt_tokens == 0);
}

TEST_CASE("prom vllm: the interval hit ratio is Δhits/Δqueries, not the cumulative one", "[prom]") {
  vllm_snapshot a;
  a.prefix_cache_queries = 1000;
  a.prefix_cache_hits = 900;  // cumulative ratio 0.9
  a.prompt_tokens = 1000;
  a.generation_tokens = 50;
  a.request_success = 10;
  a.ttft_sum = 5;
  a.ttft_count = 10;
  vllm_snapshot b = a;
  b.prefix_cache_queries = 1400;
  b.prefix_cache_hits = 1000;
  b.prompt_tokens = 1400;
  b.generation_tokens = 250;
  b.request_success = 14;
  b.ttft_sum = 7;
  b.ttft_count = 14;
  b.kv_cache_usage = 0.3;
  b.num_waiting = 2;
  const auto d = difference(a, b, std::chrono::milliseconds(500));
  CHECK(d.prefix_cache_queries == 400);
  CHECK(d.prefix_cache_hits == 100);
  CHECK(d.prefix_cache_hit_ratio == 0.25);
  CHECK(b.prefix_cache_hit_ratio() == Approx(1000.0 / 1400.0));
  CHECK(d.prompt_tokens_per_s == 800);
  CHECK(d.generation_tokens_per_s == 400);
  CHECK(d.requests_per_s == 8);
  CHECK(d.ttft_mean == 0.5);
  CHECK(std::isnan(d.tpot_mean));  // no per-token observations in the interval
  CHECK(d.kv_cache_usage == 0.3);
  CHECK(d.num_waiting == 2);
  CHECK_FALSE(d.counter_reset);

  // Nothing queried: the ratio is undefined, not 0 or 1.
  CHECK(std::isnan(difference(b, b, std::chrono::seconds(1)).prefix_cache_hit_ratio));

  // A restart: counters drop, and the later values are the deltas.
  vllm_snapshot restarted;
  restarted.prefix_cache_queries = 40;
  restarted.prefix_cache_hits = 10;
  const auto r = difference(b, restarted, std::chrono::seconds(1));
  CHECK(r.counter_reset);
  CHECK(r.prefix_cache_queries == 40);
  CHECK(r.prefix_cache_hit_ratio == 0.25);
}

TEST_CASE("prom vllm: to_json writes the agreed keys, null for undefined values", "[prom]") {
  auto s = parse_vllm_snapshot(read_page("vllm_v0.prom"));
  REQUIRE(s.has_value());
  const std::string text = to_json(*s);
  CHECK(text.find('\n') == std::string::npos);
  const auto obj = boost::json::parse(text).as_object();
  for (const char* key : {"kv_cache_usage", "prefix_cache_queries", "prefix_cache_hits",
                          "prefix_cache_hit_ratio", "ttft_sum", "ttft_count", "tpot_sum",
                          "tpot_count", "e2e_sum", "e2e_count", "prompt_tokens",
                          "generation_tokens", "request_success", "num_running", "num_waiting"}) {
    INFO(key);
    CHECK(obj.contains(key));
  }
  CHECK(obj.at("prefix_cache_hit_ratio").is_null());  // V0 counts no prefix-cache queries
  CHECK(obj.at("prompt_tokens").to_number<double>() == s->prompt_tokens);
  CHECK(obj.at("ttft_sum").to_number<double>() == s->ttft_sum);  // shortest round-trip digits
  CHECK(obj.at("legacy_prefix_cache_hit_rate").to_number<double>() == 0.42);
  CHECK(obj.at("block_size").to_number<double>() == 16);
  CHECK(obj.at("names").as_string() == "legacy");
}
