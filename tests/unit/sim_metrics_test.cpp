// SPDX-License-Identifier: MIT
// Tests for the emulator's /metrics writer: Python number formatting, byte-equality with
// prometheus_client's output, and a page that follows a live engine.
#include <planetserve/prom/vllm_snapshot.hpp>
#include <planetserve/sim/engine.hpp>
#include <planetserve/sim/metrics_writer.hpp>
#include <planetserve/sim/python_float.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>

using namespace planetserve::sim;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void observe_all(histogram& h, std::initializer_list<double> values) {
  for (double v : values) h.observe(v);
}

// The same state as tests/data/sim/make_metrics_golden.py.
engine_stats golden_stats() {
  engine_stats s(131072);
  s.prefix_cache_queries = 416;
  s.prefix_cache_hits = 192;
  s.preemptions = 1;
  s.prompt_tokens = 416;
  s.generation_tokens = 1234567;
  s.request_success = {3, 1, 0, 0, 0};
  s.prompt_tokens_local_compute = 224;
  s.prompt_tokens_local_cache_hit = 192;
  s.prompt_tokens_cached = 192;
  observe_all(s.request_prefill_kv_computed_tokens, {104, 104, 8, 8});
  observe_all(s.request_prompt_tokens, {104, 104, 104, 104});
  observe_all(s.request_generation_tokens, {1, 2, 3, 300});
  observe_all(s.iteration_tokens, {416, 0, 4});
  observe_all(s.request_max_num_generation_tokens, {1, 1, 1, 1});
  observe_all(s.request_params_n, {1, 1, 1, 1});
  observe_all(s.request_params_max_tokens, {1, 1, 1, 300});
  observe_all(s.time_to_first_token, {0.05, 0.3, 0.0123, 2.0});
  observe_all(s.inter_token_latency, {0.012, 0.02, 0.1});
  observe_all(s.request_time_per_output_token, {0.0, 0.015});
  observe_all(s.e2e_request_latency, {1.2, 0.31});
  observe_all(s.request_queue_time, {0.0, 0.5});
  observe_all(s.request_inference_time, {1.0});
  observe_all(s.request_prefill_time, {0.1});
  observe_all(s.request_decode_time, {0.9});
  return s;
}

const vllm_version& version(std::string_view name) {
  const vllm_version* v = find_vllm_version(name);
  REQUIRE(v != nullptr);
  return *v;
}

// The goldens of the names modes were written with vLLM 0.11.0's families (the same in
// 0.10.1); metrics_v1_0_26.txt with 0.26.0's.
std::string golden_page(metric_names names, const engine_stats& s, std::string_view vllm = "0.11.0") {
  metrics_view v;
  v.stats = &s;
  v.running = 3;
  v.waiting = 2;
  v.kv_cache_usage = 0.25;
  v.block_size = 16;
  v.num_gpu_blocks = 28029;
  metrics_page_config cfg;
  cfg.names = names;
  cfg.families = version(vllm).families;
  cfg.created_unix_s = 1764270000.123456;
  cfg.process_metrics = false;
  std::string out;
  write_metrics(v, cfg, out);
  return out;
}

// Value of the first sample line starting with `prefix` (name plus labels).
double sample_value(const std::string& page, const std::string& prefix) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0 && line.size() > prefix.size() &&
        (line[prefix.size()] == ' ' || line[prefix.size()] == '{')) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  FAIL("no sample " << prefix);
  return 0;
}

}  // namespace

TEST_CASE("sim metrics: python_repr and go_float_string match Python", "[sim][metrics]") {
  // Expected strings printed by Python 3.11 repr() and prometheus_client 0.16's floatToGoString.
  const std::map<double, std::pair<std::string, std::string>> cases = {
      {1.0, {"1.0", "1.0"}},
      {0.0, {"0.0", "0.0"}},
      {0.1, {"0.1", "0.1"}},
      {1e16, {"1e+16", "1e+16"}},
      {1.5e-05, {"1.5e-05", "1.5e-05"}},
      {0.0001, {"0.0001", "0.0001"}},
      {0.00012, {"0.00012", "0.00012"}},
      {3e-05, {"3e-05", "3e-05"}},
      {123456789.0, {"123456789.0", "1.23456789e+08"}},
      {0.1 + 0.2, {"0.30000000000000004", "0.30000000000000004"}},
      {1e22, {"1e+22", "1e+22"}},
      {12345678901234567.0, {"1.2345678901234568e+16", "1.2345678901234568e+16"}},
      {1e6, {"1000000.0", "1e+06"}},
      {999999.0, {"999999.0", "999999.0"}},
      {1234567.0, {"1234567.0", "1.234567e+06"}},
      {1764270000.5, {"1764270000.5", "1.7642700005e+09"}},
      {1764270000.123456, {"1764270000.123456", "1.764270000123456e+09"}},
      {16384.0, {"16384.0", "16384.0"}},
      {1e10, {"10000000000.0", "1e+010"}},
      {1e15, {"1000000000000000.0", "1e+015"}},
      {-2.5, {"-2.5", "-2.5"}},
      {123.456, {"123.456", "123.456"}},
  };
  for (const auto& [v, expected] : cases) {
    INFO("value " << v);
    CHECK(python_repr(v) == expected.first);
    CHECK(go_float_string(v) == expected.second);
  }
  CHECK(go_float_string(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(go_float_string(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(go_float_string(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}

TEST_CASE("sim metrics: pages equal prometheus_client's output byte for byte", "[sim][metrics]") {
  const auto s = golden_stats();
  const std::string dir = PLANETSERVE_TEST_DATA_DIR "/sim/";
  SECTION("v1") { CHECK(golden_page(metric_names::v1, s) == read_file(dir + "metrics_v1.txt")); }
  SECTION("v0") { CHECK(golden_page(metric_names::v0, s) == read_file(dir + "metrics_v0.txt")); }
  SECTION("both") { CHECK(golden_page(metric_names::both, s) == read_file(dir + "metrics_both.txt")); }
  SECTION("v1, vLLM 0.26.0's families") {
    CHECK(golden_page(metric_names::v1, s, "0.26.0") == read_file(dir + "metrics_v1_0_26.txt"));
  }
}

TEST_CASE("sim metrics: families present and absent per vLLM version", "[sim][metrics][vllm_version]") {
  const auto s = golden_stats();
  const char* added[] = {"vllm:num_requests_waiting_by_reason{", "vllm:prompt_tokens_by_source_total{",
                         "vllm:prompt_tokens_cached_total{", "vllm:request_prefill_kv_computed_tokens_bucket{",
                         "finished_reason=\"error\"", "finished_reason=\"repetition\""};
  for (const auto& v : modelled_vllm_versions()) {
    INFO("vLLM " << v.name);
    const auto page = golden_page(v.deprecated_names_too ? metric_names::both : metric_names::v1, s, v.name);
    const bool newer = v.name != "0.10.1" && v.name != "0.11.0";
    for (const char* family : added) {
      INFO(family);
      CHECK((page.find(family) != std::string::npos) == newer);
    }
    // Every version keeps the families pswm reads.
    for (const char* family : {"vllm:prefix_cache_queries_total{", "vllm:prefix_cache_hits_total{",
                               "vllm:kv_cache_usage_perc{", "vllm:request_success_total{", "vllm:num_requests_waiting{"})
      CHECK(page.find(family) != std::string::npos);
    CHECK((page.find("vllm:gpu_prefix_cache_queries_total{") != std::string::npos) == v.deprecated_names_too);
  }
  CHECK(&default_vllm_version() == &modelled_vllm_versions().back());
  CHECK(default_vllm_version().name == "0.26.0");
  CHECK(default_vllm_version().counting == prefix_cache_counting::at_admission);
  CHECK(version("0.25.0").counting == prefix_cache_counting::per_lookup);
  CHECK(version("0.11.0").counting == prefix_cache_counting::per_lookup);
  CHECK(find_vllm_version("0.27.0") == nullptr);
  CHECK(find_vllm_version("0.11") == nullptr);
  CHECK(modelled_vllm_version_list() == "0.10.1, 0.11.0, 0.25.0, 0.26.0");
}

TEST_CASE("sim metrics: name sets per mode", "[sim][metrics]") {
  const auto s = golden_stats();
  const auto v1 = golden_page(metric_names::v1, s);
  const auto v0 = golden_page(metric_names::v0, s);
  const auto both = golden_page(metric_names::both, s);
  CHECK(v1.find("vllm:gpu_") == std::string::npos);
  CHECK(v1.find("vllm:inter_token_latency_seconds_bucket") != std::string::npos);
  CHECK(v1.find("vllm:time_per_output_token_seconds_bucket") == std::string::npos);
  CHECK(v0.find("vllm:kv_cache_usage_perc") == std::string::npos);
  CHECK(v0.find("vllm:gpu_prefix_cache_queries_total{model_name=") != std::string::npos);
  CHECK(v0.find("engine=") == std::string::npos);
  CHECK(v0.find("vllm:time_per_output_token_seconds_count") != std::string::npos);
  for (const char* name : {"vllm:gpu_cache_usage_perc{", "vllm:kv_cache_usage_perc{", "vllm:prefix_cache_hits_total{",
                           "vllm:gpu_prefix_cache_hits_total{", "vllm:inter_token_latency_seconds_sum{",
                           "vllm:time_per_output_token_seconds_sum{"})
    CHECK(both.find(name) != std::string::npos);
  CHECK(parse_metric_names("both") == metric_names::both);
  CHECK_FALSE(parse_metric_names("v2").has_value());
}

TEST_CASE("sim metrics: the page is well-formed and follows the engine", "[sim][metrics]") {
  auto cfg = engine_config::from_profile(default_profile());
  cfg.max_model_len = 4096;
  engine e(cfg);
  planetserve::diagnostics diag;
  std::vector<planetserve::tokenize::token_id> prefix(64);
  for (std::size_t i = 0; i < prefix.size(); ++i) prefix[i] = static_cast<planetserve::tokenize::token_id>(i + 1);
  for (int r = 0; r < 3; ++r) {
    auto prompt = prefix;
    for (int i = 0; i < 40; ++i) prompt.push_back(static_cast<planetserve::tokenize::token_id>(1000 + 100 * r + i));
    sampling_params p;
    p.max_tokens = 5;
    p.ignore_eos = true;
    REQUIRE_FALSE(e.add_request("r" + std::to_string(r), prompt, p, time_point{0}, diag));
  }
  e.step(time_point{0});  // prefills; requests are now running and hold blocks
  metrics_page_config pc;
  pc.created_unix_s = 1764270000.0;
  std::string page;
  write_metrics(view_of(e), pc, page);

  const std::string lbl = "{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"}";
  CHECK(sample_value(page, "vllm:num_requests_running" + lbl) == 3.0);
  CHECK(sample_value(page, "vllm:kv_cache_usage_perc" + lbl) == Approx(e.kv_cache_usage()));
  CHECK(e.kv_cache_usage() > 0.0);
  CHECK(sample_value(page, "vllm:prefix_cache_queries_total" + lbl) == 312.0);
  CHECK(sample_value(page, "vllm:prefix_cache_hits_total" + lbl) == 128.0);
  CHECK(sample_value(page, "python_gc_objects_collected_total") > 0);

  // Structure: HELP then TYPE per family; every sample belongs to the family last declared;
  // buckets cumulative and ending with +Inf equal to _count.
  std::istringstream in(page);
  std::string line, family, type;
  double last_bucket = -1;
  std::string last_bucket_series;
  int families = 0;
  while (std::getline(in, line)) {
    REQUIRE_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      std::string next;
      REQUIRE(std::getline(in, next));
      REQUIRE(next.rfind("# TYPE " + family + " ", 0) == 0);
      type = next.substr(8 + family.size());
      ++families;
      last_bucket = -1;
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    INFO(line);
    if (type == "histogram") {
      CHECK((name == family + "_bucket" || name == family + "_count" || name == family + "_sum"));
      const double v = std::stod(line.substr(line.rfind(' ') + 1));
      if (name == family + "_bucket") {
        CHECK(v >= last_bucket);
        last_bucket = v;
        last_bucket_series = line;
      } else if (name == family + "_count") {
        CHECK(last_bucket_series.find("le=\"+Inf\"") != std::string::npos);
        CHECK(v == last_bucket);
      }
    } else {
      CHECK(name == family);
    }
  }
  CHECK(families > 40);
}

TEST_CASE("sim metrics: pswm's parser reads every version's page under KV pressure", "[sim][metrics][vllm_version]") {
  // One request holds most of the cache; a second waits for blocks, looked up every step.
  auto cfg = engine_config::from_profile(default_profile());
  cfg.num_gpu_blocks = 20;
  cfg.max_model_len = 300;
  cfg.num_gpu_blocks_overridden = true;
  std::vector<planetserve::tokenize::token_id> a(160), b(288);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<planetserve::tokenize::token_id>(1000 + i);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = i < 128 ? a[i] : static_cast<planetserve::tokenize::token_id>(9000 + i);
  for (const auto& v : modelled_vllm_versions()) {
    INFO("vLLM " << v.name);
    auto c = cfg;
    c.counting = v.counting;
    engine e(c);
    planetserve::diagnostics diag;
    sampling_params p;
    p.max_tokens = 100;
    p.ignore_eos = true;
    REQUIRE_FALSE(e.add_request("a", a, p, time_point{0}, diag));
    p.max_tokens = 5;
    REQUIRE_FALSE(e.add_request("b", b, p, time_point{0}, diag));
    for (int i = 0; i < 20; ++i) e.step(*e.next_step_time());
    REQUIRE(e.num_waiting() == 1);
    metrics_page_config pc;
    pc.names = v.deprecated_names_too ? metric_names::both : metric_names::v1;
    pc.families = v.families;
    std::string page;
    write_metrics(view_of(e), pc, page);
    auto snap = planetserve::prom::parse_vllm_snapshot(page);
    REQUIRE(snap.has_value());
    CHECK(snap->num_waiting == 1.0);  // not doubled by num_requests_waiting_by_reason
    CHECK(snap->num_running == 1.0);
    CHECK(snap->prefix_cache_queries == static_cast<double>(e.stats().prefix_cache_queries));
    CHECK(snap->prefix_cache_hits == static_cast<double>(e.stats().prefix_cache_hits));
    CHECK(snap->prompt_tokens == 160.0);  // not doubled by prompt_tokens_by_source
    CHECK(snap->request_success == 0.0);
    // Old versions have counted the waiting request at each of the 20 lookups so far.
    const double expected = v.counting == prefix_cache_counting::per_lookup ? 160 + 20 * 288 : 160;
    CHECK(snap->prefix_cache_queries == expected);
  }
}
