// SPDX-License-Identifier: MIT
// Compiled body of the sweep and SLO search driver.
#pragma once

#include <planetserve/experiment/atomic_file.hpp>
#include <planetserve/experiment/output_layout.hpp>
#include <planetserve/experiment/report_files.hpp>
#include <planetserve/experiment/run_outputs.hpp>
#include <planetserve/experiment/runner.hpp>
#include <planetserve/experiment/sweep_runner.hpp>
#include <planetserve/http/client.hpp>

#include <fstream>
#include <sstream>

namespace planetserve::experiment {

sweep_runner::sweep_runner(boost::asio::any_io_executor ex, run_config base, std::filesystem::path dir,
                           std::ostream& log)
    : ex_(std::move(ex)), base_(std::move(base)), dir_(std::move(dir)), log_(log) {}

void sweep_runner::request_stop() {
  stop_ = true;
  if (current_) current_->request_stop();
}

boost::asio::awaitable<void> sweep_runner::async_reset_caches() {
  const std::string auth_value = "Bearer " + base_.api_key;
  std::vector<http::header_field> auth;
  if (!base_.api_key.empty()) auth.push_back({"Authorization", auth_value});
  http::client_config cc;
  cc.ca_file = base_.ca_file;
  cc.insecure = base_.insecure;
  cc.connect_timeout = std::chrono::seconds(3);
  for (const auto& url : base_.endpoints) {
    diagnostics d;
    auto c = http::client::create(ex_, url, cc, d);
    if (!c) continue;  // the point's own preflight names a bad URL
    auto r = co_await c->async_fetch(http::client_request::post("/reset_prefix_cache", "application/json", "", auth), d);
    c->shutdown();
    if ((!r || r->status != 200) && !reset_warned_) {
      reset_warned_ = true;
      log_ << "pswm: warning: " << url << " did not reset its prefix cache ("
           << (r ? "HTTP " + std::to_string(r->status) : d.message)
           << "): sweep points after the first may start with a warm cache. vLLM serves POST /reset_prefix_cache "
              "only with VLLM_SERVER_DEV_MODE=1.\n";
    }
  }
}

boost::asio::awaitable<boost::system::error_code> sweep_runner::async_run_point(const std::string& policy,
                                                                              double rate_rps, std::uint64_t seed,
                                                                              sweep_purpose purpose,
                                                                              diagnostics& diag) {
  if (stop_) co_return make_error_code(error::cancelled);
  if (!points_.empty()) co_await async_reset_caches();
  run_config cfg = base_;
  cfg.policies = {policy};
  cfg.average_interval_s = 1.0 / rate_rps;
  cfg.seed = seed;
  cfg.ramp_start_rps = cfg.ramp_end_rps = 0;
  std::string sub = "rate_" + rate_label(rate_rps);
  if (purpose == sweep_purpose::seed_check) sub += "_seed" + std::to_string(seed);
  cfg.output_dir = dir_ / policy / sub;
  log_ << "pswm: sweep: " << policy << " at " << rate_label(rate_rps) << " req/s (seed " << seed << ", "
       << to_string(purpose) << ")\n";
  runner r(ex_, cfg, log_);
  if (auto ec = r.prepare(diag)) co_return ec;
  current_ = &r;
  auto ec = co_await r.async_preflight(diag);
  if (!ec) ec = co_await r.async_run(diag);
  current_ = nullptr;
  if (r.results().empty()) co_return ec ? ec : make_error_code(error::cancelled);
  const auto& pr = r.results().front();
  {
    diagnostics d;  // the run's own outputs are written; a missing report.html is only noted
    if (write_run_report(pr, emulator_, d)) log_ << "pswm: warning: " << d.message << "\n";
  }
  sweep_point p;
  p.policy = policy;
  p.rate_rps = rate_rps;
  p.seed = seed;
  p.purpose = purpose;
  p.run_dir = pr.layout.log_dir.lexically_relative(dir_).generic_string();
  p.summary = pr.summary;
  points_.push_back(std::move(p));
  co_return ec;
}

boost::asio::awaitable<boost::system::error_code> sweep_runner::async_sweep(std::span<const double> rates_rps,
                                                                            diagnostics& diag) {
  for (double rate : rates_rps)
    for (const auto& policy : base_.policies) {
      if (stop_) co_return boost::system::error_code{};
      if (auto ec = co_await async_run_point(policy, rate, base_.seed, sweep_purpose::sweep, diag)) co_return ec;
    }
  co_return boost::system::error_code{};
}

const sweep_point* sweep_runner::find_point(const std::string& policy, double rate, std::uint64_t seed) const {
  for (const auto& p : points_)
    if (p.policy == policy && p.rate_rps == rate && p.seed == seed) return &p;
  return nullptr;
}

boost::asio::awaitable<boost::system::error_code> sweep_runner::async_verdict(
    const std::string& policy, double rate, std::uint64_t seed, sweep_purpose purpose, const slo_spec& slo,
    bool& met, std::string& run, diagnostics& diag) {
  if (!find_point(policy, rate, seed))
    if (auto ec = co_await async_run_point(policy, rate, seed, purpose, diag)) co_return ec;
  // The verdict is written on the point itself, so sweep.json shows it on every run.
  for (auto& p : points_)
    if (p.policy == policy && p.rate_rps == rate && p.seed == seed) {
      p.slo_violations = slo_violations(p.summary, slo);
      p.slo_met = p.slo_violations.empty() && !p.summary.interrupted;
      met = *p.slo_met;
      run = p.run_dir;
    }
  co_return boost::system::error_code{};
}

boost::asio::awaitable<boost::system::error_code> sweep_runner::async_slo_search(const slo_spec& slo,
                                                                                 double lowest_rps,
                                                                                 double highest_rps,
                                                                                 double tolerance,
                                                                                 diagnostics& diag) {
  for (auto& p : points_) {  // sweep points get their verdicts too
    p.slo_violations = slo_violations(p.summary, slo);
    p.slo_met = p.slo_violations.empty() && !p.summary.interrupted;
  }
  for (const auto& policy : base_.policies) {
    slo_search search(lowest_rps, highest_rps, tolerance);
    slo_result res;
    res.policy = policy;
    while (auto rate = search.next_rate()) {
      if (stop_) break;
      bool met = false;
      std::string run;
      if (auto ec = co_await async_verdict(policy, *rate, base_.seed, sweep_purpose::search, slo, met, run, diag))
        co_return ec;
      if (stop_) break;  // an interrupted run says nothing about the rate
      search.record(met);
      (met ? res.last_pass_run : res.first_fail_run) = run;
      log_ << "pswm: slo search: " << policy << " at " << rate_label(*rate) << " req/s: "
           << (met ? "meets " : "breaks ") << to_string(slo) << "\n";
    }
    res.end = search.end();
    res.last_pass_rps = search.last_pass();
    res.first_fail_rps = search.first_fail();
    res.runs = search.runs();
    if (!stop_ && res.end != slo_search_end::searching) {
      // The boundary again with another seed: other arrival times (and policy coin flips).
      const std::uint64_t seed2 = base_.seed + 1;
      res.second_seed = seed2;
      std::string run;
      if (res.last_pass_rps) {
        bool met = false;
        if (auto ec = co_await async_verdict(policy, *res.last_pass_rps, seed2, sweep_purpose::seed_check, slo, met,
                                             run, diag))
          co_return ec;
        res.second_seed_last_pass_met = met;
      }
      if (res.first_fail_rps && !stop_) {
        bool met = false;
        if (auto ec = co_await async_verdict(policy, *res.first_fail_rps, seed2, sweep_purpose::seed_check, slo, met,
                                             run, diag))
          co_return ec;
        res.second_seed_first_fail_met = met;
      }
      if (stop_) res.second_seed.reset();
    }
    searches_.push_back(std::move(res));
    if (stop_) break;
  }
  co_return boost::system::error_code{};
}

boost::system::error_code write_sweep_outputs(const std::filesystem::path& dir, std::string_view dataset,
                                              std::span<const sweep_point> points,
                                              const std::optional<slo_spec>& slo, double slo_tolerance,
                                              std::span<const slo_result> searches, bool render,
                                              const report_facts& emulator, std::ostream& log,
                                              diagnostics& diag) {
  std::vector<std::string> unwritten;
  auto note = [&](boost::system::error_code ec, const diagnostics& d) {
    if (ec) unwritten.push_back(d.message);
  };
  {
    diagnostics d;
    if (auto ec = ensure_writable_dir(dir, d)) {
      diag = d;
      return ec;
    }
  }
  diagnostics d1, d2, d3, d4;
  note(write_file_atomic(dir / "sweep.json", sweep_json(dataset, points, slo, slo_tolerance, searches), d1), d1);
  note(write_file_atomic(dir / "sweep.txt", sweep_text(points, slo, searches), d2), d2);
  const auto charts = sweep_charts(points);
  note(write_charts(charts, dir, render, log, d3), d3);
  report_context ctx;
  ctx.title = "pswm sweep: " + std::string(dataset);
  if (!points.empty()) {
    // The first point's settings; each point's own run.json differs only in policy, rate and seed.
    std::ifstream in(dir / points.front().run_dir / "run.json", std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    ctx.configuration = facts_of_json(text.str());
    for (auto& [k, v] : ctx.configuration)
      if (k == "policy" || k == "average_interval_s" || k == "seed") v = "per point (see its run.json)";
  }
  ctx.emulator = emulator;
  note(write_file_atomic(dir / "report.html", sweep_report_html(points, slo, searches, charts, ctx), d4), d4);
  if (unwritten.empty()) return {};
  diag.message = "sweep outputs incomplete:";
  for (const auto& u : unwritten) diag.message += "\n  - " + u;
  return make_error_code(error::file_unwritable);
}

}  // namespace planetserve::experiment
