// SPDX-License-Identifier: MIT
// Virtual time: the runner's core over in-process engines under a discrete-event clock, and
// its agreement with a real-time run over emulated nodes on sockets.
#include "reliability_support.hpp"

#include <planetserve/experiment/memory_estimate.hpp>
#include <planetserve/experiment/report_files.hpp>
#include <planetserve/experiment/runner.hpp>
#include <planetserve/experiment/virtual_fleet.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>
#include <planetserve/sim/fleet.hpp>
#include <planetserve/sim/profile.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <fstream>
#include <sstream>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace ex = planetserve::experiment;
namespace sim = planetserve::sim;
namespace rt = reliability_test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

sim::fleet_config a100_fleet(std::size_t nodes) {
  sim::fleet_config fc;
  fc.num_nodes = nodes;
  fc.node = sim::node_config::from_profile(*sim::find_profile("llama-3.1-8b-a100-80gb"));
  fc.node.enable_prompt_tokens_details = true;
  fc.node.engine.seed = 7;
  return fc;
}

ex::run_config base_config(const fs::path& dataset, const fs::path& out, const std::string& policy) {
  auto cfg = rt::quick_config(dataset, out);
  cfg.api = ex::api_kind::chat;
  cfg.average_interval_s = 0.15;
  cfg.max_new_tokens = 16;
  cfg.policies = {policy};
  cfg.metrics_interval = std::chrono::duration<double>(0.1);
  cfg.seed = 3;
  return cfg;
}

/// A virtual-time run of `policy` over `prompts` generated prompts on three A100 nodes, in `dir`.
ex::run_config virtual_config(const fs::path& dir, std::size_t prompts, const std::string& policy) {
  auto cfg = base_config(rt::write_dataset(dir, prompts), dir / "out", policy);
  cfg.virtual_time = true;
  cfg.virtual_nodes = a100_fleet(3);
  return cfg;
}

/// One full pass of `cfg` on `io`; the policy's result.
ex::policy_result run_on(asio::io_context& io, const ex::run_config& cfg, std::string* log_out = nullptr) {
  std::ostringstream log;
  ex::runner r(io.get_executor(), cfg, log);
  rt::pass_result pr;
  bool done = false;
  asio::co_spawn(io, rt::full_pass(r, pr), [&](std::exception_ptr e) {
    done = true;
    if (e) std::rethrow_exception(e);
    io.stop();
  });
  io.run_for(60s);
  INFO(pr.diag << "\n" << log.str());
  REQUIRE(done);
  REQUIRE_FALSE(pr.prepare);
  REQUIRE_FALSE(pr.preflight);
  REQUIRE_FALSE(pr.run);
  if (log_out) *log_out = log.str();
  REQUIRE(r.results().size() == 1);
  return r.results().front();
}

/// A virtual-time run of `cfg` (it needs no io_context of its own, but runs in one).
ex::policy_result run_once(const ex::run_config& cfg, std::string* log_out = nullptr) {
  asio::io_context io;
  return run_on(io, cfg, log_out);
}

/// A real-time run of `cfg` against an emulated fleet `fc` on loopback sockets.
ex::policy_result run_real(ex::run_config cfg, const sim::fleet_config& fc) {
  asio::io_context io;
  sim::fleet fleet(io.get_executor(), fc);
  ps::diagnostics diag;
  REQUIRE_FALSE(fleet.start(diag));
  cfg.endpoints = fleet.urls();
  return run_on(io, cfg);
}

double mean_ttft(const std::vector<ex::request_record>& rs) {
  double sum = 0;
  for (const auto& r : rs) sum += r.ttft_s();
  return sum / static_cast<double>(rs.size());
}

double p99_ttft(const std::vector<ex::request_record>& rs) {
  std::vector<double> v;
  for (const auto& r : rs) v.push_back(r.ttft_s());
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(v.size()))) - 1)];
}

double hit_ratio(const std::vector<ex::request_record>& rs) {
  double cached = 0, prompt = 0;
  for (const auto& r : rs) {
    cached += r.cached_tokens.value_or(0);
    prompt += r.prompt_tokens;
  }
  return cached / prompt;
}

}  // namespace

TEST_CASE("virtual time: a run writes the same files, says it was virtual, and is exactly repeatable",
          "[virtual_time]") {
  rt::temp_dir tmp("virtual");
  auto cfg = virtual_config(tmp.path, 30, "lb");
  std::string log;
  const auto a = run_once(cfg, &log);
  REQUIRE(a.records.size() == 30);
  for (const auto& r : a.records) {
    CHECK(r.ok);
    CHECK(r.completion_tokens == 16);
    CHECK(r.ttft_s() > 0.005);  // a real prefill's time, not zero
    CHECK(r.chunk_s.size() == 16);
  }
  const auto& dir = a.layout.log_dir;
  for (const char* f : {"experiment_results.json", "throughput_records.json", "requests.jsonl", "run.json",
                        "summary.json", "metrics_timeline.jsonl"})
    CHECK(fs::exists(dir / f));
  const auto run = boost::json::parse(rt::slurp(dir / "run.json")).as_object();
  CHECK(run.at("clock").as_string() == "virtual");
  CHECK(boost::json::parse(rt::slurp(dir / "summary.json")).as_object().at("clock").as_string() == "virtual");
  CHECK(log.find("Clock: VIRTUAL") != std::string::npos);
  // The timeline was sampled from the engines at the metrics interval (pages rendered and parsed).
  REQUIRE(a.timelines.size() == 3);
  CHECK(a.timelines[0].samples.size() >= 10);
  CHECK(a.timelines[0].failed_scrapes == 0);
  CHECK(a.summary.prefix_hit_ratio > 0);

  // Same seed, same everything: the same records to the nanosecond.
  rt::temp_dir tmp2("virtual2");
  auto cfg2 = cfg;
  cfg2.output_dir = tmp2.path / "out";
  const auto b = run_once(cfg2);
  REQUIRE(b.records.size() == a.records.size());
  for (std::size_t i = 0; i < a.records.size(); ++i) {
    CHECK(a.records[i].node == b.records[i].node);
    CHECK(a.records[i].first_token_s == b.records[i].first_token_s);
    CHECK(a.records[i].finished_s == b.records[i].finished_s);
  }
}

TEST_CASE("virtual time: precise gets the engines' KV events in-process and predicts the hits exactly",
          "[virtual_time]") {
  rt::temp_dir tmp("virtual_precise");
  auto cfg = virtual_config(tmp.path, 40, "precise");
  const auto r = run_once(cfg);
  REQUIRE(r.records.size() == 40);
  std::size_t exact = 0, hits = 0;
  for (const auto& rec : r.records) {
    CHECK(rec.rule != "precise-fallback");  // every node's index is exact from the start
    REQUIRE(rec.predicted_cached_tokens.has_value());
    exact += rec.predicted_cached_tokens.value_or(0) == rec.cached_tokens.value_or(0);
    hits += rec.cached_tokens.value_or(0) > 0;
  }
  CHECK(hits >= 20);          // the families share their preamble: most requests hit
  CHECK(exact == r.records.size());  // one clock, no races: the index is what the engine holds
}

TEST_CASE("virtual time: the page a virtual node shows parses to its engine's state", "[virtual_time]") {
  ps::diagnostics diag;
  auto vf = ex::virtual_fleet::create(a100_fleet(1), diag);
  REQUIRE(vf.has_value());
  const std::string body =
      R"({"model":"meta-llama/Llama-3.1-8B-Instruct","prompt":"hello there, how are you today?","max_tokens":4,"stream":true})";
  CHECK_FALSE((*vf)->send(0, 0, body, false, 0ms));
  std::vector<std::pair<std::size_t, ex::attempt_result>> ended;
  std::string page;
  (*vf)->metrics_page(0, page);
  auto snap = ps::prom::parse_vllm_snapshot(page);
  REQUIRE(snap.has_value());
  CHECK(snap->has_vllm());
  CHECK(snap->num_waiting + snap->num_running == 1);
  while (auto t = (*vf)->next_event()) (*vf)->advance(*t, ended);
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].second.ok);
  CHECK(ended[0].second.completion_tokens == 4);
  page.clear();
  (*vf)->metrics_page(0, page);
  snap = ps::prom::parse_vllm_snapshot(page);
  REQUIRE(snap.has_value());
  CHECK(snap->num_waiting + snap->num_running == 0);
  // A body the node would refuse is refused the same way.
  auto refused = (*vf)->send(1, 0, R"({"model":"other","prompt":"x"})", false, 1s);
  REQUIRE(refused);
  CHECK(refused->http_status == 404);
}

namespace {
/// Equal, NaN equal to NaN: a field the page does not show is NaN on both sides.
bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void check_snapshot_is_the_parsed_page(const ex::virtual_fleet& vf, std::size_t k) {
  std::string page;
  vf.metrics_page(k, page);
  const auto parsed = ps::prom::parse_vllm_snapshot(page);
  REQUIRE(parsed.has_value());
  const auto direct = vf.snapshot(k);
  CHECK(same(direct.kv_cache_usage, parsed->kv_cache_usage));
  CHECK(same(direct.prefix_cache_queries, parsed->prefix_cache_queries));
  CHECK(same(direct.prefix_cache_hits, parsed->prefix_cache_hits));
  CHECK(same(direct.ttft_sum, parsed->ttft_sum));
  CHECK(same(direct.ttft_count, parsed->ttft_count));
  CHECK(same(direct.tpot_sum, parsed->tpot_sum));
  CHECK(same(direct.tpot_count, parsed->tpot_count));
  CHECK(same(direct.e2e_sum, parsed->e2e_sum));
  CHECK(same(direct.e2e_count, parsed->e2e_count));
  CHECK(same(direct.prompt_tokens, parsed->prompt_tokens));
  CHECK(same(direct.generation_tokens, parsed->generation_tokens));
  CHECK(same(direct.request_success, parsed->request_success));
  CHECK(same(direct.num_preemptions, parsed->num_preemptions));
  CHECK(same(direct.num_running, parsed->num_running));
  CHECK(same(direct.num_waiting, parsed->num_waiting));
  CHECK(direct.legacy_prefix_cache_hit_rate.has_value() == parsed->legacy_prefix_cache_hit_rate.has_value());
  if (direct.legacy_prefix_cache_hit_rate && parsed->legacy_prefix_cache_hit_rate)
    CHECK(same(*direct.legacy_prefix_cache_hit_rate, *parsed->legacy_prefix_cache_hit_rate));
  CHECK(direct.block_size == parsed->block_size);
  CHECK(direct.num_gpu_blocks == parsed->num_gpu_blocks);
  CHECK(direct.engines == parsed->engines);
  CHECK(direct.current_names == parsed->current_names);
  CHECK(direct.legacy_names == parsed->legacy_names);
  CHECK(direct.v1_engine_label == parsed->v1_engine_label);
  CHECK(direct.vllm_samples == parsed->vllm_samples);
}
}  // namespace

TEST_CASE("virtual time: a node's snapshot is what parsing its page gives, at every step, in every name set",
          "[virtual_time]") {
  for (const auto names : {sim::metric_names::v1, sim::metric_names::v0, sim::metric_names::both}) {
    CAPTURE(static_cast<int>(names));
    auto fc = a100_fleet(1);
    fc.node.metrics_names = names;
    ps::diagnostics diag;
    auto vf = ex::virtual_fleet::create(fc, diag);
    REQUIRE(vf.has_value());
    check_snapshot_is_the_parsed_page(**vf, 0);  // before any request: zero counters, no hit rate yet
    // Requests sharing a prefix (so the cache hits), arriving while others run; checked after
    // every engine event, mid-prefill and mid-decode as well as at the end.
    std::string shared;
    for (int w = 0; w < 300; ++w) shared += "word" + std::to_string(w % 17) + " ";
    std::vector<std::pair<std::size_t, ex::attempt_result>> ended;
    for (std::size_t i = 0; i < 6; ++i) {
      const std::string body = R"({"model":"meta-llama/Llama-3.1-8B-Instruct","prompt":")" + shared + "question " +
                               std::to_string(i) + R"(","max_tokens":)" + std::to_string(3 + 5 * i) + R"(,"stream":true})";
      CHECK_FALSE((*vf)->send(i, 0, body, false, std::chrono::milliseconds(40 * i)));
    }
    std::size_t checks = 0;
    while (auto t = (*vf)->next_event()) {
      (*vf)->advance(*t, ended);
      check_snapshot_is_the_parsed_page(**vf, 0);
      ++checks;
    }
    CHECK(ended.size() == 6);
    CHECK(checks > 10);
    const auto last = (*vf)->snapshot(0);
    CHECK(last.prefix_cache_hits > 0);
    CHECK(last.request_success == 6);
  }
}

TEST_CASE("virtual time: a request sent as the node's tokens runs exactly as its body would", "[virtual_time]") {
  for (const bool chat : {false, true}) {
    CAPTURE(chat);
    const auto fc = a100_fleet(1);
    ps::diagnostics diag;
    auto by_body = ex::virtual_fleet::create(fc, diag);
    auto by_tokens = ex::virtual_fleet::create(fc, diag);
    REQUIRE(by_body.has_value());
    REQUIRE(by_tokens.has_value());
    const auto tokens_of = ex::virtual_fleet::node_tokens(fc.node, chat);
    std::string shared;
    for (int w = 0; w < 200; ++w) shared += "term" + std::to_string(w % 13) + " ";
    for (std::size_t i = 0; i < 5; ++i) {
      ps::workload::prompt p;
      p.text = shared + "case " + std::to_string(i);
      ps::openai::request_options opt;
      opt.model = "meta-llama/Llama-3.1-8B-Instruct";
      opt.max_tokens = static_cast<unsigned>(4 + 3 * i);
      if (i % 2 == 1) {  // a trace's request: exactly max_tokens
        opt.min_tokens = opt.max_tokens;
        opt.ignore_eos = true;
      }
      opt.temperature = 0.0;
      std::string body;
      if (chat) {
        const ps::openai::message_view m{"user", p.text};
        ps::openai::build_chat_body(opt, std::span(&m, 1), body);
      } else {
        ps::openai::build_completions_body(opt, p.text, body);
      }
      std::vector<ps::tokenize::token_id> toks;
      tokens_of(p, toks);
      const auto at = std::chrono::milliseconds(25 * i);
      CHECK_FALSE((*by_body)->send(i, 0, body, chat, at));
      CHECK_FALSE((*by_tokens)->send_tokens(i, 0, toks, opt, at));
    }
    std::vector<std::pair<std::size_t, ex::attempt_result>> a, b;
    while (auto t = (*by_body)->next_event()) (*by_body)->advance(*t, a);
    while (auto t = (*by_tokens)->next_event()) (*by_tokens)->advance(*t, b);
    REQUIRE(a.size() == 5);
    REQUIRE(b.size() == 5);
    std::size_t hits = 0;
    for (std::size_t k = 0; k < a.size(); ++k) {
      CHECK(a[k].first == b[k].first);
      CHECK(a[k].second.ok);
      CHECK(a[k].second.prompt_tokens == b[k].second.prompt_tokens);
      CHECK(a[k].second.completion_tokens == b[k].second.completion_tokens);
      CHECK(a[k].second.cached_tokens == b[k].second.cached_tokens);
      CHECK(a[k].second.first_token_s == b[k].second.first_token_s);
      CHECK(a[k].second.finished_s == b[k].second.finished_s);
      CHECK(a[k].second.chunk_s == b[k].second.chunk_s);
      CHECK(a[k].second.finish_reason == b[k].second.finish_reason);
      hits += a[k].second.cached_tokens.value_or(0) > 0;
    }
    CHECK(hits >= 3);  // the shared words are cached after the first request
  }
  // Options the node's parser would refuse are refused the same way.
  ps::diagnostics diag;
  auto vf = ex::virtual_fleet::create(a100_fleet(1), diag);
  REQUIRE(vf.has_value());
  ps::openai::request_options other;
  other.model = "other";
  const auto refused = (*vf)->send_tokens(0, 0, {1, 2, 3}, other, 0ms);
  REQUIRE(refused);
  CHECK(refused->http_status == 404);
}

TEST_CASE("virtual time: a run too large for memory is refused before it starts, with the estimate and the flags",
          "[virtual_time][scale]") {
  // The estimate grows with requests, output tokens, nodes and kept policies; errs high.
  const auto small = ex::estimate_virtual_memory(1000, 200, 8, 28000, 1, true);
  const auto more = ex::estimate_virtual_memory(2000, 200, 8, 28000, 1, true);
  CHECK(more.total - small.total == 1000 * small.per_request);
  CHECK(small.per_request >= 1024 + 8 * 200);  // at least the record and its chunk times
  CHECK(ex::estimate_virtual_memory(1000, 200, 8, 28000, 2, true).total > small.total);
  CHECK(ex::estimate_virtual_memory(1000, 200, 8, 28000, 1, false).per_node < small.per_node);
  CHECK(ex::format_bytes(1536) == "1.5 KB");
  CHECK(ex::format_bytes(3ull << 30) == "3.0 GB");
  CHECK(ex::available_memory().value_or(1) > 0);

  rt::temp_dir tmp("virtual_memory");
  auto cfg = virtual_config(tmp.path, 30, "lb");
  cfg.memory_limit_bytes = 64u << 20;  // less than three A100 nodes' KV-cache index alone
  asio::io_context io;
  std::ostringstream log;
  ex::runner r(io.get_executor(), cfg, log);
  ps::diagnostics diag;
  const auto ec = r.prepare(diag);
  CHECK(ec == ps::error::not_enough_memory);
  CHECK_THAT(diag.message, Catch::Contains("30 requests on 3 nodes would need about") && Catch::Contains("--maxq") &&
                               Catch::Contains("--num-nodes") && Catch::Contains("64.0 MB"));
  CHECK_FALSE(fs::exists(tmp.path / "out"));  // nothing written
  // Under the limit the same run prepares.
  cfg.memory_limit_bytes = 8ull << 30;
  ex::runner ok(io.get_executor(), cfg, log);
  ps::diagnostics d2;
  CHECK_FALSE(ok.prepare(d2));
}

TEST_CASE("virtual time: without keep_records each policy's records go once written; the comparison keeps its CDF",
          "[virtual_time][scale]") {
  rt::temp_dir tmp("virtual_records");
  auto cfg = virtual_config(tmp.path, 24, "rr");
  cfg.policies = {"rr", "lb"};
  cfg.keep_records = false;
  std::vector<std::size_t> seen;  // records each policy had when done
  cfg.on_policy_done = [&](const ex::policy_result& r) {
    seen.push_back(r.records.size());
    CHECK(r.ttft_cdf.points.size() == r.records.size() + 1);  // (first, 0) then one step per request
  };
  asio::io_context io;
  std::ostringstream log;
  ex::runner r(io.get_executor(), cfg, log);
  rt::pass_result pr;
  asio::co_spawn(io, rt::full_pass(r, pr), [&](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run_for(60s);
  INFO(pr.diag << "\n" << log.str());
  REQUIRE_FALSE(pr.run);
  CHECK(seen == std::vector<std::size_t>{24, 24});
  REQUIRE(r.results().size() == 2);
  for (const auto& res : r.results()) {
    CHECK(res.records.empty());
    CHECK(res.summary.requests == 24);  // the summary was made before they went
  }
  ps::diagnostics d;
  const auto cdir = tmp.path / "cmp";
  std::ostringstream clog;
  REQUIRE_FALSE(ex::write_comparison_report(cdir, r.results(), {}, false, clog, d));
  std::ifstream html(cdir / "report.html");
  const std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  CHECK(page.find("CDF") != std::string::npos);
  // Each policy's CDF line reached the chart: the last step of each is at fraction 1.
  std::ifstream gp(cdir / "compare_ttft_cdf.gp");
  const std::string script((std::istreambuf_iterator<char>(gp)), std::istreambuf_iterator<char>());
  CHECK(script.find("'rr'") != std::string::npos);
  CHECK(script.find("'lb'") != std::string::npos);
  std::size_t ones = 0;
  for (std::size_t at = script.find(" 1.0\nEOD"); at != std::string::npos; at = script.find(" 1.0\nEOD", at + 1)) ++ones;
  CHECK(ones >= 2);
}

/// `n` prompts of about 2,500 tokens: a long document shared by a third of them, then a long
/// question of their own. Even a prompt whose document is cached prefills for tens of
/// milliseconds, so a socket's fraction of a millisecond is small beside it, as beside a GPU's.
fs::path long_prompts(const fs::path& dir, std::size_t n) {
  const fs::path file = dir / "long.jsonl";
  std::ofstream out(file);
  for (std::size_t i = 0; i < n; ++i) {
    out << "{\"workload\": \"Document " << i % 3 << ":";
    for (int w = 0; w < 1200; ++w) out << " word" << (w * 7 + static_cast<int>(i % 3)) % 97;
    out << ". Question " << i << ":";
    for (int w = 0; w < 800; ++w) out << " term" << (w * 11 + static_cast<int>(i)) % 89;
    out << "?\"}\n";
  }
  return file;
}

// Hidden from discovery: ctest runs it on its own (RUN_SERIAL, tests/CMakeLists.txt), since
// the real-time half's timing suffers when other tests load the same cores. The real-time half
// also pays the build's own speed: an unoptimised sanitizer build (CI's Debug ASan stage) added
// 3.3% to 4% to its TTFTs, which is the build's overhead and not the emulator's, so TTFTs are
// held to 3% in optimised builds and to 10% in the others; nodes and hit ratios stay exact.
#ifdef NDEBUG
constexpr double ttft_tolerance = 0.03;
#else
constexpr double ttft_tolerance = 0.10;
#endif

TEST_CASE("virtual time agrees with real time: same nodes, hit ratio within 0.01, TTFT within 3% (optimised builds)",
          "[.][virtual_time_agreement]") {
  for (const std::string policy : {"rr", "lb"}) {
    INFO(policy);
    rt::temp_dir tmp("agree_" + policy);
    const auto data = long_prompts(tmp.path, 40);
    auto cfg = base_config(data, tmp.path / "real", policy);
    const auto real = run_real(cfg, a100_fleet(2));
    cfg.output_dir = tmp.path / "virtual";
    cfg.virtual_time = true;
    cfg.virtual_nodes = a100_fleet(2);
    const auto virt = run_once(cfg);
    REQUIRE(real.records.size() == virt.records.size());
    std::size_t same = 0;
    for (std::size_t i = 0; i < real.records.size(); ++i) same += real.records[i].node == virt.records[i].node;
    CHECK(same == real.records.size());
    CHECK(std::abs(hit_ratio(real.records) - hit_ratio(virt.records)) <= 0.01);
    const double mr = mean_ttft(real.records), mv = mean_ttft(virt.records);
    const double pr = p99_ttft(real.records), pv = p99_ttft(virt.records);
    INFO("mean TTFT real " << mr << " virtual " << mv << "; p99 real " << pr << " virtual " << pv);
    CHECK(std::abs(mv - mr) <= ttft_tolerance * mr);
    CHECK(std::abs(pv - pr) <= ttft_tolerance * pr);
  }
}
