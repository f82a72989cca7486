// SPDX-License-Identifier: MIT
// Compiled body of writing report.html files.
#pragma once

#include <planetserve/experiment/atomic_file.hpp>
#include <planetserve/experiment/output_layout.hpp>
#include <planetserve/experiment/report_files.hpp>
#include <planetserve/experiment/run_charts.hpp>
#include <planetserve/experiment/run_outputs.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <sstream>

namespace planetserve::experiment {

namespace {

report_facts run_json_facts(const std::filesystem::path& log_dir) {
  std::ifstream in(log_dir / "run.json", std::ios::binary);
  if (!in) return {{"run.json", "not found in " + log_dir.string()}};
  std::ostringstream text;
  text << in.rdbuf();
  return facts_of_json(text.str());
}

}  // namespace

boost::system::error_code write_run_report(const run_summary& summary, std::span<const request_record> records,
                                           std::span<const node_timeline> timelines,
                                           const std::filesystem::path& log_dir, const report_facts& emulator,
                                           diagnostics& diag) {
  report_context ctx;
  ctx.title = "pswm run: " + summary.policy + " on " + summary.dataset;
  ctx.configuration = run_json_facts(log_dir);
  ctx.emulator = emulator;
  if (!emulator.empty()) {
    boost::json::object o;
    for (const auto& [k, v] : emulator) o[k] = v;
    if (auto ec = write_file_atomic(log_dir / "emulator.json", boost::json::serialize(o) + "\n", diag)) return ec;
  }
  const auto charts = run_charts(records, timelines);
  return write_file_atomic(log_dir / "report.html", run_report_html(summary, charts, ctx), diag);
}

boost::system::error_code write_run_report(const policy_result& run, const report_facts& emulator,
                                           diagnostics& diag) {
  return write_run_report(run.summary, run.records, run.timelines, run.layout.log_dir, emulator, diag);
}

report_facts read_emulator_facts(const std::filesystem::path& log_dir) {
  std::ifstream in(log_dir / "emulator.json", std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return facts_of_json(text.str());
}

boost::system::error_code write_comparison_report(const std::filesystem::path& dir,
                                                  std::span<const policy_result> runs,
                                                  const report_facts& emulator, bool render, std::ostream& log,
                                                  diagnostics& diag) {
  std::vector<run_summary> sums;
  std::vector<labelled_run> labelled;
  for (const auto& r : runs) {
    sums.push_back(r.summary);
    labelled.push_back({r.policy, r.records, r.timelines,
                        r.records.empty() && !r.ttft_cdf.points.empty() ? &r.ttft_cdf : nullptr});
  }
  const auto record_charts = comparison_record_charts(labelled);
  if (auto ec = write_charts(record_charts, dir, render, log, diag)) return ec;
  auto charts = comparison_charts(sums);
  charts.insert(charts.end(), record_charts.begin(), record_charts.end());
  report_context ctx;
  ctx.title = "pswm comparison: " + (sums.empty() ? std::string() : sums.front().dataset);
  if (!runs.empty()) ctx.configuration = run_json_facts(runs.front().layout.log_dir);
  for (auto& [k, v] : ctx.configuration)
    if (k == "policy") {  // the first run's: name them all
      v.clear();
      for (const auto& r : runs) v += (v.empty() ? "" : ", ") + r.policy;
    }
  ctx.emulator = emulator;
  return write_file_atomic(dir / "report.html", comparison_report_html(sums, charts, ctx), diag);
}

std::filesystem::path comparison_dir(const run_config& config) {
  return config.output_dir /
         ("compare_" + dataset_label(config.dataset_file) + "_" + interval_label(config.average_interval_s));
}

}  // namespace planetserve::experiment
