// SPDX-License-Identifier: MIT
// Tests for the run's output files: experiment_results.json, throughput records, summaries,
// requests.jsonl lines and timeline.json, with numbers worked out by hand.
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/summary.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ex = planetserve::experiment;
namespace json = boost::json;

namespace {

ex::node_sample snap_at(double t, double kv, double queries, double hits, double ttft_sum,
                        double ttft_count, double tpot_sum, double tpot_count) {
  ex::node_sample s;
  s.t_s = t;
  s.snap.kv_cache_usage = kv;
  s.snap.prefix_cache_queries = queries;
  s.snap.prefix_cache_hits = hits;
  s.snap.ttft_sum = ttft_sum;
  s.snap.ttft_count = ttft_count;
  s.snap.tpot_sum = tpot_sum;
  s.snap.tpot_count = tpot_count;
  return s;
}

std::vector<ex::node_timeline> one_node() {
  std::vector<ex::node_timeline> t(1);
  t[0].name = "node_0";
  t[0].url = "http://127.0.0.1:8000";
  t[0].samples = {
      snap_at(0, 0.0, 0, 0, 0, 0, 0, 0),          // nothing yet: hit ratio and averages NaN
      snap_at(1, 0.25, 100, 50, 1, 2, 0.5, 10),  // hit .5, ttft .5, tpot .05
      snap_at(2, 0.5, 200, 150, 3, 4, 1, 20),    // hit .75, ttft .75, tpot .05
      snap_at(3, 0.75, 400, 350, 6, 6, 3, 30),   // hit .875, ttft 1, tpot .1
  };
  return t;
}

ex::request_record rec(std::size_t q, std::uint32_t node, double sent, double first, double fin) {
  ex::request_record r;
  r.query_id = q;
  r.node = node;
  r.scheduled_s = sent;
  r.sent_s = sent;
  r.first_token_s = first;
  r.finished_s = fin;
  r.absolute_start = 1700000000.5 + sent;
  r.ok = std::isfinite(first);
  r.completion_tokens = 3;
  r.prompt_tokens = 7;
  return r;
}

json::array parse_array(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_array());
  return v.get_array();
}

json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  return v.get_object();
}

double d(const json::value& v) { return v.to_number<double>(); }

// The seed unpacks every record as `for (_, v) in recs`: each must be a pair of numbers.
std::vector<std::pair<double, double>> pairs(const json::value& v) {
  std::vector<std::pair<double, double>> out;
  for (const auto& x : v.as_array()) {
    REQUIRE(x.is_array());
    REQUIRE(x.as_array().size() == 2);
    REQUIRE(x.as_array()[0].is_number());
    REQUIRE(x.as_array()[1].is_number());
    out.emplace_back(d(x.as_array()[0]), d(x.as_array()[1]));
  }
  return out;
}

}  // namespace

TEST_CASE("experiment: experiment_results.json has the seed's fields cut from the node's scrapes", "[experiment][report]") {
  const auto tls = one_node();
  std::vector<ex::request_record> recs;
  recs.push_back(rec(0, 0, 0.5, 1.0, 2.5));   // runs over the scrapes at 1 and 2, after the one at 0
  recs.back().response_id = "chatcmpl-abc";
  recs.push_back(rec(1, 0, 1.0, 1.5, 3.0));   // boundaries included: scrapes 1, 2, 3
  recs.push_back(rec(2, 0, 0.0, 0.25, 0.5));  // only the empty scrape at 0
  recs.push_back(rec(3, planetserve::dispatch::no_node, ex::missing, ex::missing, ex::missing));
  recs.back().error = "no node available";

  const auto a = parse_array(ex::experiment_results_json(recs, tls));
  REQUIRE(a.size() == 4);

  for (const char* key : {"query_id", "query_number", "node_name", "generation_time", "absolute_start",
                          "final_kv_cache_usage", "final_prefix_cache_hit_rate",
                          "final_time_to_first_token", "final_time_per_output_token", "usage_records",
                          "prefix_usage_records", "time_to_first_token_records",
                          "time_per_output_token_records", "request_index"})
    for (const auto& o : a) CHECK(o.as_object().contains(key));

  const auto& r0 = a[0].as_object();
  CHECK(r0.at("query_id").as_string() == "chatcmpl-abc");  // the server's response id, as the seed
  CHECK(r0.at("request_index").to_number<int>() == 0);
  CHECK(r0.at("query_number").to_number<int>() == 1);
  CHECK(r0.at("node_name").as_string() == "node_0");
  CHECK(d(r0.at("generation_time")) == Approx(2.0));  // e2e
  CHECK(d(r0.at("absolute_start")) == Approx(1700000001.0).epsilon(1e-15));
  // [elapsed since the send, value] pairs, led by the last scrape before the send (t=0).
  using P = std::vector<std::pair<double, double>>;
  CHECK(pairs(r0.at("usage_records")) == P{{-0.5, 0.0}, {0.5, 0.25}, {1.5, 0.5}});
  CHECK(pairs(r0.at("prefix_usage_records")) == P{{-0.5, 0.0}, {0.5, 0.5}, {1.5, 0.75}});  // NaN: 0.0, as the seed
  CHECK(pairs(r0.at("time_to_first_token_records")) == P{{-0.5, 0.0}, {0.5, 0.5}, {1.5, 0.75}});
  CHECK(pairs(r0.at("time_per_output_token_records")) == P{{-0.5, 0.0}, {0.5, 0.05}, {1.5, 0.05}});
  // final_*: the last pair's value (the last scrape at or before the request finished).
  CHECK(d(r0.at("final_kv_cache_usage")) == 0.5);
  CHECK(d(r0.at("final_prefix_cache_hit_rate")) == 0.75);
  CHECK(d(r0.at("final_time_to_first_token")) == 0.75);
  CHECK(d(r0.at("final_time_per_output_token")) == Approx(0.05));
  // Ours.
  CHECK(d(r0.at("ttft_s")) == 0.5);
  CHECK(d(r0.at("e2e_s")) == 2.0);
  CHECK(d(r0.at("tpot_s")) == 0.75);  // (2 - .5) / 2
  CHECK(r0.at("status").as_string() == "ok");
  CHECK(r0.at("error").is_null());
  CHECK(r0.at("cached_tokens").is_null());  // the server sent no usage

  const auto& r1 = a[1].as_object();
  CHECK(r1.at("query_id").as_string() == "unknown");  // no id came: the seed's fallback
  CHECK(r1.at("query_number").to_number<int>() == 2);
  CHECK(pairs(r1.at("usage_records")) == P{{0.0, 0.25}, {1.0, 0.5}, {2.0, 0.75}});  // sent on a scrape
  CHECK(d(r1.at("final_prefix_cache_hit_rate")) == 0.875);

  // Undefined ratios and averages (no queries, no observations yet) read 0.0, as the seed's.
  const auto& r2 = a[2].as_object();
  CHECK(pairs(r2.at("prefix_usage_records")) == P{{0.0, 0.0}});
  CHECK(pairs(r2.at("time_to_first_token_records")) == P{{0.0, 0.0}});
  CHECK(d(r2.at("final_prefix_cache_hit_rate")) == 0.0);
  CHECK(d(r2.at("final_time_per_output_token")) == 0.0);

  // Never routed, never sent: numbers stay numbers (the seed's readers do arithmetic on them).
  const auto& r3 = a[3].as_object();
  CHECK(r3.at("node_name").is_null());
  CHECK(d(r3.at("generation_time")) == 0.0);
  CHECK(d(r3.at("final_kv_cache_usage")) == 0.0);
  CHECK(r3.at("usage_records").as_array().empty());
  CHECK(r3.at("status").as_string() == "error");
  CHECK(r3.at("error").as_string() == "no node available");
  CHECK(r3.at("decision").as_object().at("node").is_null());
}

TEST_CASE("experiment: throughput_records.json counts from each node's first scrape", "[experiment][report]") {
  std::vector<ex::node_timeline> tls(2);
  tls[0].name = "node_0";
  tls[1].name = "node_1";
  auto counters = [](double t, double prompt, double gen, double ok, double kv) {
    ex::node_sample s;
    s.t_s = t;
    s.snap.prompt_tokens = prompt;
    s.snap.generation_tokens = gen;
    s.snap.request_success = ok;
    s.snap.kv_cache_usage = kv;
    s.snap.num_running = 2;
    s.snap.num_waiting = 1;
    return s;
  };
  // node_0 served traffic before the run: its first scrape is the baseline.
  tls[0].samples = {counters(0.5, 1000, 500, 10, 0.1), counters(1.5, 1100, 550, 12, 0.2),
                    counters(3.0, 1300, 600, 15, 0.3)};
  tls[1].samples = {counters(0, 0, 0, 0, 0), counters(2, 50, 20, 1, 0.4)};

  const auto a = parse_array(ex::throughput_records_json(tls, 1.0));
  REQUIRE(a.size() == 4);  // elapsed 0, 1, 2, 3
  std::vector<std::vector<double>> want = {
      // elapsed, prompt, gen, success (summed over nodes)
      {0, 0, 0, 0},      // node_0 not scraped yet, node_1 at its baseline
      {1, 0, 0, 0},      // node_0 at its baseline
      {2, 150, 70, 3},   // node_0 +100 +50 +2, node_1 +50 +20 +1
      {3, 350, 120, 6},  // node_0 +300 +100 +5
  };
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& row = a[i].as_object();
    INFO("row " << i);
    CHECK(d(row.at("elapsed")) == want[i][0]);
    CHECK(d(row.at("prompt_tokens")) == want[i][1]);
    CHECK(d(row.at("gen_tokens")) == want[i][2]);
    CHECK(d(row.at("request_success")) == want[i][3]);
    REQUIRE(row.at("nodes").as_array().size() == 2);
  }
  const auto& n0_at0 = a[0].as_object().at("nodes").as_array()[0].as_object();
  CHECK(n0_at0.at("node_name").as_string() == "node_0");
  CHECK(n0_at0.at("prompt_tokens").is_null());
  const auto& n0_at2 = a[2].as_object().at("nodes").as_array()[0].as_object();
  CHECK(d(n0_at2.at("prompt_tokens")) == 100);
  CHECK(d(n0_at2.at("kv_cache_usage")) == 0.2);
  CHECK(d(n0_at2.at("num_running")) == 2);
  CHECK(d(n0_at2.at("num_waiting")) == 1);
  CHECK(d(n0_at2.at("scraped_s")) == 1.5);
}

TEST_CASE("experiment: summary.json and compare.json carry the numbers, NaN as null", "[experiment][report]") {
  ex::run_summary s;
  s.policy = "lb";
  s.dataset = "toolbench";
  s.requests = 10;
  s.ok = 8;
  s.failed = 2;
  s.interrupted = true;
  s.duration_s = 4;
  s.ttft_mean_s = 0.125;
  s.prefix_hit_ratio = 0.75;
  s.failures = {{"timeout", 1}, {"http_500", 1}};
  s.nodes.push_back({"node_0", "http://x:1", 6, 1, 0.6, 0.5, ex::missing, 3});

  const auto o = parse_object(ex::summary_json(s));
  for (const char* key : {"policy", "requests", "ok", "failed", "interrupted", "duration_s",
                          "request_throughput", "token_throughput", "ttft_mean_s", "ttft_p50_s",
                          "ttft_p99_s", "tpot_mean_s", "e2e_mean_s", "e2e_p99_s", "send_lag_p99_s",
                          "prefix_hit_ratio", "kv_cache_usage_mean", "failures", "nodes"})
    CHECK(o.contains(key));
  CHECK(o.at("policy").as_string() == "lb");
  CHECK(o.at("requests").to_number<int>() == 10);
  CHECK(o.at("interrupted").as_bool());
  CHECK(d(o.at("ttft_mean_s")) == 0.125);
  CHECK(d(o.at("prefix_hit_ratio")) == 0.75);
  CHECK(o.at("ttft_p99_s").is_null());  // missing
  CHECK(o.at("failures").as_object().at("timeout").to_number<int>() == 1);
  CHECK(o.at("failures").as_object().at("http_500").to_number<int>() == 1);
  const auto& n = o.at("nodes").as_array().at(0).as_object();
  CHECK(n.at("name").as_string() == "node_0");
  CHECK(d(n.at("share")) == 0.6);
  CHECK(d(n.at("prefix_hit_ratio")) == 0.5);
  CHECK(n.at("kv_cache_usage_mean").is_null());
  CHECK(n.at("failed_scrapes").to_number<int>() == 3);

  ex::run_summary rr = s;
  rr.policy = "rr";
  rr.prefix_hit_ratio = 0.25;
  std::vector<ex::run_summary> runs{rr, s};
  const auto c = parse_object(ex::comparison_json(runs));
  const auto& pol = c.at("policies").as_array();
  REQUIRE(pol.size() == 2);
  CHECK(pol[0].as_object().at("policy").as_string() == "rr");
  CHECK(d(pol[0].as_object().at("prefix_hit_ratio")) == 0.25);
  CHECK(pol[1].as_object().at("policy").as_string() == "lb");
}

TEST_CASE("experiment: summary text marks every metric client-side or server-side", "[experiment][report]") {
  ex::run_summary s;
  s.policy = "lb";
  s.dataset = "loogle";
  s.ok = 3;
  s.failed = 1;
  s.e2e_mean_s = 1.5;
  s.prefix_hit_ratio = 0.8125;
  s.server_ttft_mean_s = 0.25;
  s.failures = {{"timeout", 1}};
  s.nodes.push_back({"node_0", "http://x:1", 4, 1, 1.0, 0.8125, 0.5, 0});
  std::string text = ex::summary_text(s);

  auto line_with = [&](const std::string& label) {
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l))
      if (l.rfind(label, 0) == 0) return l;
    FAIL("no line starting with " << label << " in:\n" << text);
    return std::string();
  };
  CHECK(line_with("Requests (ok / failed)").find("3 / 1") != std::string::npos);
  const auto lat = line_with("Average latency (s)");
  CHECK(lat.find("1.5000") != std::string::npos);
  CHECK(lat.find("[client-side]") != std::string::npos);
  const auto hit = line_with("Prefix cache hit ratio (run)");
  CHECK(hit.find("0.8125") != std::string::npos);
  CHECK(hit.find("[server-side /metrics]") != std::string::npos);
  CHECK(line_with("Average TTFT (s)").find("[client-side]") != std::string::npos);
  CHECK(line_with("Mean TTFT (s)").find("[server-side /metrics]") != std::string::npos);
  CHECK(line_with("Mean KV-cache usage").find("[server-side /metrics]") != std::string::npos);
  CHECK(line_with("Output token throughput (tok/s)").find("n/a") != std::string::npos);  // NaN
  CHECK(line_with("Failures: timeout").find('1') != std::string::npos);
  CHECK(line_with("node_0 (http://x:1)").find("share 1.000") != std::string::npos);
  // No seed numbers computed (no files were read): none of its lines.
  CHECK(text.find("Avg Token Throughput") == std::string::npos);
  // With them: the seed's lines first, in its own format, each saying where it comes from.
  s.average_interval_s = 0.5;
  s.seed.computed = true;
  s.seed.avg_latency_s = 1.25;
  s.seed.p99_latency_s = 2.5;
  s.seed.tpot_s = 0.0125;
  s.seed.ttft_s = ex::missing;  // no request had records: Python prints nan
  s.seed.token_throughput = 4812.3456;
  s.seed.request_throughput = 1.9;
  s.seed.prefix_hit_rate = 0.5;
  s.seed.inter_arrival_s = 0.49;
  text = ex::summary_text(s);
  CHECK(line_with("Avg Latency: 1.250s").find("[client-side]") != std::string::npos);
  CHECK(line_with("P99 Latency: 2.500s").find("[client-side]") != std::string::npos);
  CHECK(line_with("TPOT: 0.013s").find("server-side") != std::string::npos);
  CHECK(line_with("TTFT: nans").find("server-side") != std::string::npos);
  CHECK(line_with("Avg Token Throughput: 4812.35 tok/s").find("server-side /metrics counters") != std::string::npos);
  CHECK(line_with("Avg Request Throughput: 1.90 req/s").find("server-side") != std::string::npos);
  CHECK(line_with("Avg Prefix Hit Rate: 0.500").find("server-side") != std::string::npos);
  CHECK(line_with("Avg Inter-arrival: 0.490s").find("[client-side]") != std::string::npos);
  CHECK(line_with("Mean Interval: 0.500s").size() > 0);
  CHECK(text.find("Avg Latency:") < text.find("Average latency (s)"));
  CHECK(text.find("Average latency") < text.find("TTFT p50"));
  CHECK(text.find("INTERRUPTED") == std::string::npos);
  s.interrupted = true;
  CHECK(ex::summary_text(s).find("INTERRUPTED") != std::string::npos);
}

TEST_CASE("experiment: past 32 nodes the summary shows the spread and the troubled nodes, not a line each",
          "[experiment][report][scale]") {
  for (const std::size_t n : {std::size_t{32}, std::size_t{40}}) {
    CAPTURE(n);
    ex::run_summary s;
    s.policy = "lb";
    s.dataset = "d";
    s.nodes.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      auto& nd = s.nodes[k];
      nd.name = "node_" + std::to_string(k);
      nd.url = "virtual:node_" + std::to_string(k);
      nd.requests = 10 + k;
      nd.share = static_cast<double>(k + 1) / 1000.0;
      nd.prefix_hit_ratio = static_cast<double>(k) / static_cast<double>(n - 1);
    }
    s.nodes[7].failed = 2;
    const std::string text = ex::summary_text(s);
    CHECK(text.find("node_7 (virtual:node_7)") != std::string::npos);  // troubled: always listed
    if (n <= 32) {
      CHECK(text.find("node_3 (virtual:node_3)") != std::string::npos);
      CHECK(text.find("Node share") == std::string::npos);
    } else {
      CHECK(text.find("node_3 (virtual:node_3)") == std::string::npos);
      // share 0.001 .. 0.040, median 0.0205; hit 0 .. 1, median 0.5
      CHECK(text.find("Node share min / median / max     0.00100") != std::string::npos);
      CHECK(text.find("0.00100 / 0.02050 / 0.04000") != std::string::npos);
      CHECK(text.find("0.000 / 0.500 / 1.000") != std::string::npos);
      CHECK(text.find("summary.json") != std::string::npos);
    }
  }
}

TEST_CASE("experiment: comparison text puts policies side by side", "[experiment][report]") {
  ex::run_summary rr, lb;
  rr.policy = "rr";
  rr.prefix_hit_ratio = 0.25;
  rr.send_lag_p99_s = 0.002;
  lb.policy = "lb";
  lb.prefix_hit_ratio = 0.75;
  lb.ok = 9;
  lb.failed = 1;
  std::vector<ex::run_summary> runs{rr, lb};
  const auto text = ex::comparison_text(runs);
  std::istringstream in(text);
  std::string header, l, hit, lag, counts;
  std::getline(in, header);
  while (std::getline(in, l)) {
    if (l.rfind("prefix hit ratio", 0) == 0) hit = l;
    if (l.rfind("send lag p99 (ms)", 0) == 0) lag = l;
    if (l.rfind("requests ok/failed", 0) == 0) counts = l;
  }
  CHECK(header.find("rr") < header.find("lb"));
  REQUIRE_FALSE(hit.empty());
  CHECK(hit.find("0.2500") < hit.find("0.7500"));
  CHECK(hit.find("server") != std::string::npos);
  CHECK(lag.find("2.000") != std::string::npos);  // shown in ms
  CHECK(lag.find("n/a") != std::string::npos);
  CHECK(counts.find("9/1") != std::string::npos);
}

TEST_CASE("experiment: request record line round-trips every field", "[experiment][report]") {
  ex::request_record r;
  r.query_id = 42;
  r.epoch = 2;
  r.node = 3;
  r.scheduled_s = 1.25;
  r.sent_s = 1.5;
  r.first_token_s = 1.75;
  r.finished_s = 3.0625;
  r.absolute_start = 1764270000.123456;
  r.chunk_s = {1.75, 2.0, 3.0625};
  r.prompt_tokens = 512;
  r.completion_tokens = 3;
  r.cached_tokens = 256;
  r.usage_reported = true;
  r.finish_reason = "length";
  r.ok = true;
  r.http_status = 200;
  r.error = "";
  r.error_kind = "";
  r.rule = "deepest_match";
  r.prompt_blocks = 32;
  r.match_blocks = {0, 16, 32, 0};
  r.load_scores = {0.5, 1.0, ex::missing, 2.25};

  const auto line = ex::record_line(r);
  CHECK(line.find('\n') == std::string::npos);  // one line of requests.jsonl
  planetserve::diagnostics diag;
  auto back = ex::parse_record_line(line, diag);
  REQUIRE(back.has_value());
  const auto& b = *back;
  CHECK(b.query_id == 42);
  CHECK(b.epoch == 2);
  CHECK(b.node == 3);
  CHECK(b.scheduled_s == 1.25);
  CHECK(b.sent_s == 1.5);
  CHECK(b.first_token_s == 1.75);
  CHECK(b.finished_s == 3.0625);
  CHECK(b.absolute_start == Approx(1764270000.123456).epsilon(1e-15));
  CHECK(b.chunk_s == r.chunk_s);
  CHECK(b.prompt_tokens == 512);
  CHECK(b.completion_tokens == 3);
  CHECK(b.cached_tokens == 256);
  CHECK(b.usage_reported);
  CHECK(b.finish_reason == "length");
  CHECK(b.ok);
  CHECK(b.http_status == 200);
  CHECK(b.rule == "deepest_match");
  CHECK(b.prompt_blocks == 32);
  CHECK(b.match_blocks == r.match_blocks);
  REQUIRE(b.load_scores.size() == 4);
  CHECK(b.load_scores[0] == 0.5);
  CHECK(std::isnan(b.load_scores[2]));  // null back to NaN
  CHECK(b.load_scores[3] == 2.25);

  // A failure with NaN times and no node.
  ex::request_record f;
  f.query_id = 7;
  f.scheduled_s = 0.5;
  f.error = "connect: refused \"node 1\"\n";
  f.error_kind = "connection_failed";
  f.http_status = 0;
  auto fb = ex::parse_record_line(ex::record_line(f), diag);
  REQUIRE(fb.has_value());
  CHECK(fb->query_id == 7);
  CHECK(fb->node == planetserve::dispatch::no_node);
  CHECK(fb->scheduled_s == 0.5);
  CHECK(std::isnan(fb->sent_s));
  CHECK(std::isnan(fb->finished_s));
  CHECK(std::isnan(fb->absolute_start));
  CHECK_FALSE(fb->ok);
  CHECK_FALSE(fb->usage_reported);
  CHECK(fb->error == f.error);
  CHECK(fb->error_kind == "connection_failed");
  CHECK(fb->chunk_s.empty());
}

TEST_CASE("experiment: request record times read back as the same doubles", "[experiment][report]") {
  // Times are whole nanoseconds over 1e9 and take the record's own formatter; the other
  // numbers (fractions of a nanosecond, negative, huge, scores) take std::to_chars.
  std::mt19937_64 rng(7);
  std::vector<double> times{0.0, 1e-9, 0.1, 0.3, 1.0, 2.5, 1.000000001, 8999999.999999999, 9e6};
  std::vector<double> others{12345.6789, 1795829180.1254895, -1.5, 1e-12, 1.0 / 3.0, 1.7976931348623157e308};
  for (int i = 0; i < 20000; ++i) {
    const auto ns = static_cast<std::int64_t>(rng() % 9'000'000'000'000'000ULL >> (rng() % 40));
    times.push_back(std::chrono::duration<double>(std::chrono::nanoseconds(ns)).count());
    others.push_back(static_cast<double>(rng() % 100000) / 7.0);
  }
  ex::request_record r;
  r.query_id = 1;
  r.chunk_s = times;
  r.load_scores = others;
  const auto line = ex::record_line(r);
  CHECK(line.find("\"chunk_s\":[0,0.000000001,0.1,0.3,1,2.5,1.000000001,8999999.999999998,9e+06,") !=
        std::string::npos);
  CHECK(line.find("\"load_scores\":[12345.6789,1795829180.1254895,-1.5,1e-12,0.3333333333333333,") !=
        std::string::npos);
  planetserve::diagnostics diag;
  auto back = ex::parse_record_line(line, diag);
  REQUIRE(back.has_value());
  REQUIRE(back->chunk_s.size() == times.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < times.size(); ++i)
    if (std::memcmp(&back->chunk_s[i], &times[i], sizeof(double)) != 0) ++differ;
  CHECK(differ == 0);
  // A negative zero is not a time: it keeps its sign in the text.
  ex::request_record z;
  z.query_id = 2;
  z.chunk_s = {-0.0, 0.0};
  CHECK(ex::record_line(z).find("\"chunk_s\":[-0,0]") != std::string::npos);
  // Boost.JSON 1.81 reads 17-digit numbers to within an ulp or two, not always exactly.
  REQUIRE(back->load_scores.size() == others.size());
  for (std::size_t i = 0; i < others.size(); ++i) CHECK(back->load_scores[i] == Approx(others[i]).epsilon(1e-15));
}

TEST_CASE("experiment: bad request record lines are rejected with a reason", "[experiment][report]") {
  for (std::string_view bad : {"", "not json", "[1, 2]", "{\"query_id\": 1", "{}", "{\"query_id\": null}",
                               "{\"query_id\": \"3\"}", "{\"query_id\": -1}",
                               "{\"query_id\": 1, \"node\": -2}",
                               "{\"query_id\": 1, \"match_blocks\": [-1]}",
                               "{\"query_id\": 1, \"match_blocks\": [1.5]}",
                               // Casts of these to their integer fields would be undefined.
                               "{\"query_id\": 1, \"prompt_tokens\": 1e20}",
                               "{\"query_id\": 1, \"retries\": 4294967296}",
                               "{\"query_id\": 1, \"epoch\": 1e30}", "{\"query_id\": 1, \"epoch\": -1}",
                               "{\"query_id\": 1e20}", "{\"query_id\": 1, \"node\": 1e20}",
                               "{\"query_id\": 1, \"node\": 4294967295}", "{\"query_id\": 1, \"node\": 1e400}",
                               "{\"query_id\": 1, \"cached_tokens\": -3}", "{\"query_id\": 1, \"prompt_blocks\": -1e400}",
                               "{\"query_id\": 1, \"http_status\": 70000}"}) {
    INFO(bad);
    planetserve::diagnostics diag;
    planetserve::result<ex::request_record> r = make_error_code(planetserve::error::malformed_line);
    CHECK_NOTHROW(r = ex::parse_record_line(bad, diag));
    CHECK_FALSE(r.has_value());
    CHECK_FALSE(diag.message.empty());
  }
  planetserve::diagnostics diag;
  auto big = ex::parse_record_line("{\"query_id\": 1, \"completion_tokens\": 1e12}", diag);
  REQUIRE_FALSE(big.has_value());
  CHECK(diag.message.find("completion_tokens") != std::string::npos);
  auto negative = ex::parse_record_line("{\"query_id\": 1, \"retries\": -2}", diag);
  REQUIRE_FALSE(negative.has_value());
  CHECK(diag.message == "request record: retries is -2, not a whole number from 0 to 4294967295");
  auto edge = ex::parse_record_line("{\"query_id\": 1, \"prompt_tokens\": 4294967295}", diag);
  REQUIRE(edge.has_value());
  CHECK(edge->prompt_tokens == 4294967295u);
  auto minimal = ex::parse_record_line("{\"query_id\": 5}", diag);
  REQUIRE(minimal.has_value());
  CHECK(minimal->query_id == 5);
  CHECK(minimal->node == planetserve::dispatch::no_node);
  CHECK(std::isnan(minimal->sent_s));
}

TEST_CASE("experiment: timeline.json round-trips every node's scrapes", "[experiment][report]") {
  auto tls = one_node();
  tls[0].failed_scrapes = 2;
  tls[0].first_failure = "timeout after 1s";
  auto& last = tls[0].samples.back().snap;
  last.e2e_sum = 12.5;
  last.e2e_count = 5;
  last.prompt_tokens = 4096;
  last.generation_tokens = 300;
  last.request_success = 5;
  last.num_preemptions = 1;
  last.num_running = 3;
  last.num_waiting = 4;
  tls.emplace_back();
  tls[1].name = "node_1";
  tls[1].url = "https://y:443";  // no scrapes at all

  planetserve::diagnostics diag;
  auto back = ex::parse_timelines_json(ex::timelines_json(tls), diag);
  REQUIRE(back.has_value());
  REQUIRE(back->size() == 2);
  const auto& a = (*back)[0];
  CHECK(a.name == "node_0");
  CHECK(a.url == "http://127.0.0.1:8000");
  CHECK(a.failed_scrapes == 2);
  CHECK(a.first_failure == "timeout after 1s");
  REQUIRE(a.samples.size() == tls[0].samples.size());
  for (std::size_t i = 0; i < a.samples.size(); ++i) {
    const auto& x = a.samples[i];
    const auto& y = tls[0].samples[i];
    INFO("sample " << i);
    CHECK(x.t_s == y.t_s);
    CHECK(x.snap.kv_cache_usage == y.snap.kv_cache_usage);
    CHECK(x.snap.prefix_cache_queries == y.snap.prefix_cache_queries);
    CHECK(x.snap.prefix_cache_hits == y.snap.prefix_cache_hits);
    CHECK(x.snap.ttft_sum == y.snap.ttft_sum);
    CHECK(x.snap.ttft_count == y.snap.ttft_count);
    CHECK(x.snap.tpot_sum == y.snap.tpot_sum);
    CHECK(x.snap.tpot_count == y.snap.tpot_count);
  }
  const auto& l = a.samples.back().snap;
  CHECK(l.e2e_sum == 12.5);
  CHECK(l.e2e_count == 5);
  CHECK(l.prompt_tokens == 4096);
  CHECK(l.generation_tokens == 300);
  CHECK(l.request_success == 5);
  CHECK(l.num_preemptions == 1);
  CHECK(l.num_running == 3);
  CHECK(l.num_waiting == 4);
  CHECK((*back)[1].name == "node_1");
  CHECK((*back)[1].url == "https://y:443");
  CHECK((*back)[1].samples.empty());

  // A re-read timeline summarizes exactly like the original.
  const auto s1 = ex::summarize({}, tls);
  const auto s2 = ex::summarize({}, *back);
  CHECK(s1.prefix_hit_ratio == s2.prefix_hit_ratio);
  CHECK(s1.kv_cache_usage_mean == s2.kv_cache_usage_mean);

  for (std::string_view bad : {"", "[]", "{\"nodes\": 3}", "{\"nodes\": [", "{\"other\": []}",
                               // A count that does not fit size_t would make its cast undefined.
                               "{\"nodes\": [{\"failed_scrapes\": -1}]}", "{\"nodes\": [{\"failed_scrapes\": 1e20}]}",
                               "{\"nodes\": [{\"failed_scrapes\": 1e400}]}"}) {
    INFO(bad);
    planetserve::diagnostics d2;
    CHECK_FALSE(ex::parse_timelines_json(bad, d2).has_value());
    CHECK_FALSE(d2.message.empty());
  }
  // A sample without a time (read from a hand-edited file) writes as null and reads back
  // (found by timeline_fuzz: Boost.JSON wrote the NaN as text no JSON reader takes).
  std::vector<ex::node_timeline> untimed(1);
  untimed[0].samples.push_back(ex::node_sample{});
  untimed[0].samples[0].t_s = std::numeric_limits<double>::quiet_NaN();
  planetserve::diagnostics d4;
  auto reread = ex::parse_timelines_json(ex::timelines_json(untimed), d4);
  INFO(d4.message);
  REQUIRE(reread.has_value());
  REQUIRE((*reread)[0].samples.size() == 1);
  CHECK(std::isnan((*reread)[0].samples[0].t_s));
  planetserve::diagnostics d3;
  CHECK_FALSE(ex::parse_timelines_json("{\"nodes\": [{}, {\"failed_scrapes\": 1e20}]}", d3).has_value());
  CHECK(d3.message == "timeline.json: node 1: failed_scrapes is 1e+20, not a whole number from 0 to 18446744073709551615");
  auto fine = ex::parse_timelines_json("{\"nodes\": [{\"failed_scrapes\": 3}, {\"failed_scrapes\": null}]}", d3);
  REQUIRE(fine.has_value());
  CHECK((*fine)[0].failed_scrapes == 3);
  CHECK((*fine)[1].failed_scrapes == 0);
}

TEST_CASE("experiment: throughput_records.json survives a server restart mid-run", "[experiment][report]") {
  std::vector<ex::node_timeline> tls(1);
  tls[0].name = "node_0";
  auto at = [](double t, double prompt, double gen, double ok) {
    ex::node_sample s;
    s.t_s = t;
    s.snap.prompt_tokens = prompt;
    s.snap.generation_tokens = gen;
    s.snap.request_success = ok;
    return s;
  };
  // Counters drop to near zero at t=2: the restarted server's counts add on, never subtract.
  tls[0].samples = {at(0, 100, 10, 1), at(1, 150, 20, 2), at(2, 20, 5, 1), at(3, 70, 15, 3)};
  const auto a = parse_array(ex::throughput_records_json(tls, 1.0));
  REQUIRE(a.size() == 4);
  const double want_prompt[] = {0, 50, 70, 120};
  const double want_gen[] = {0, 10, 15, 25};
  const double want_ok[] = {0, 1, 2, 4};
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("row " << i);
    CHECK(d(a[i].as_object().at("prompt_tokens")) == want_prompt[i]);
    CHECK(d(a[i].as_object().at("gen_tokens")) == want_gen[i]);
    CHECK(d(a[i].as_object().at("request_success")) == want_ok[i]);
  }
}
