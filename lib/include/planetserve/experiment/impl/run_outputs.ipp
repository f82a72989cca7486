// SPDX-License-Identifier: MIT
// Compiled body of write_run_outputs and rebuild_report.
#pragma once

#include <planetserve/experiment/atomic_file.hpp>
#include <planetserve/experiment/cache_prediction.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/report_rebuild.hpp>
#include <planetserve/experiment/report_files.hpp>
#include <planetserve/experiment/run_charts.hpp>
#include <planetserve/experiment/run_outputs.hpp>
#include <planetserve/experiment/seed_summary.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace planetserve::experiment {

boost::system::error_code write_charts(const std::vector<chart>& charts,
                                       const std::filesystem::path& dir, bool render,
                                       std::ostream& log, diagnostics& diag) {
  if (auto ec = ensure_writable_dir(dir, diag)) return ec;
  const auto gnuplot = render ? find_gnuplot() : std::filesystem::path{};
  for (const auto& c : charts) {
    diagnostics d;
    if (auto ec = render_chart(c, dir, gnuplot, d)) {
      // The script is written either way: a PNG gnuplot could not make is a warning.
      if (ec != error::plot_failed) {
        diag = d;
        return ec;
      }
      log << "pswm: warning: " << d.message << "\n";
    }
  }
  if (gnuplot.empty() && render)
    log << "pswm: gnuplot not found: wrote the chart scripts to " << dir.string()
        << "/*.gp; install gnuplot-nox and run `gnuplot FILE.gp` in that folder to render them\n";
  return {};
}

void warn_skipped_readings(const run_summary& summary, std::ostream& log) {
  for (const auto& n : summary.nodes)
    if (n.skipped_readings > 0)
      log << "pswm: warning: " << n.name << " (" << n.url << "): " << n.skipped_readings
          << " /metrics reading(s) left out of the server-side figures (NaN, a missing series, or a "
             "counter that dipped and came back)\n";
}

boost::system::error_code write_run_outputs(std::span<const request_record> records,
                                            std::span<const node_timeline> timelines,
                                            run_summary& summary, const output_layout& layout,
                                            double tick_s, bool render, std::ostream& log,
                                            diagnostics& diag) {
  const auto& dir = layout.log_dir;
  if (auto ec = ensure_writable_dir(dir, diag)) return ec;
  std::vector<const request_record*> by_query;
  by_query.reserve(records.size());
  for (const auto& r : records) by_query.push_back(&r);
  std::stable_sort(by_query.begin(), by_query.end(), [](const auto* a, const auto* b) {
    return a->epoch != b->epoch ? a->epoch < b->epoch : a->query_id < b->query_id;
  });
  // experiment_results.json is written as it is made, and the seed's summary read off the
  // same objects (summarize_seed_files's checks and numbers, without parsing the text again):
  // at a million requests the file is gigabytes.
  std::vector<std::string> failed;
  std::string why;
  seed_summary_builder seed;
  diagnostics seed_diag;
  bool seed_ok = true;
  {
    atomic_file_writer w;
    diagnostics d;
    auto ec = w.open(dir / "experiment_results.json", d);
    write_experiment_results(
        std::span<const request_record* const>(by_query), timelines, [&](std::string_view piece) { w.write(piece); },
        [&](const boost::json::object& o, std::size_t i) {
          if (seed_ok && seed.add_request(o, i, seed_diag)) seed_ok = false;
        });
    if (!ec) ec = w.commit(d);
    if (ec) {
      failed.push_back((dir / "experiment_results.json").string());
      why = d.message;
    }
  }
  const boost::json::array throughput = throughput_records(timelines, tick_s);
  if (seed_ok && seed.set_throughput(throughput, seed_diag)) seed_ok = false;
  if (seed_ok) summary.seed = seed.finish();
  else log << "pswm: warning: the seed's summary could not be computed: " << seed_diag.message << "\n";
  const std::pair<std::string, std::string> files[] = {
      {"throughput_records.json", boost::json::serialize(throughput)},
      {"summary.json", summary_json(summary)},
      {"timeline.json", timelines_json(timelines)},
      {summary.dataset + "_summary.txt", summary_text(summary)},
  };
  // Every file is tried even when one fails (a full disk may still take a small one), and
  // the error names them all.
  for (const auto& [name, text] : files) {
    diagnostics d;
    if (write_file_atomic(dir / name, text, d)) {
      failed.push_back((dir / name).string());
      if (why.empty()) why = d.message;
    }
  }
  diagnostics d;
  if (write_charts(run_charts(records, timelines), layout.fig_dir, render, log, d)) {
    failed.push_back(layout.fig_dir.string() + "/");
    if (why.empty()) why = d.message;
  }
  if (failed.empty()) return {};
  diag.message = "not written: ";
  for (std::size_t i = 0; i < failed.size(); ++i) diag.message += (i ? ", " : "") + failed[i];
  diag.message += " (first error: " + why + ")";
  return error::file_unwritable;
}

namespace {

result<std::string> slurp(const std::filesystem::path& p, diagnostics& diag) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    diag.message = p.string() + ": cannot open (is this a pswm log folder?)";
    return make_error_code(error::file_not_found);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "3, 7, 9 and 4 more": the first few line numbers of a list.
std::string line_list(const std::vector<std::size_t>& lines) {
  std::string out;
  const std::size_t shown = std::min<std::size_t>(lines.size(), 10);
  for (std::size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + std::to_string(lines[i]);
  if (lines.size() > shown) out += " and " + std::to_string(lines.size() - shown) + " more";
  return out;
}

}  // namespace

result<rebuilt_report> rebuild_report(const rebuild_options& options, std::ostream& log,
                                      diagnostics& diag) {
  const auto& dir = options.log_dir;
  auto run = slurp(dir / "run.json", diag);
  if (!run) return run.error();
  boost::system::error_code ec;
  auto rv = boost::json::parse(*run, ec);
  if (ec || !rv.is_object()) {
    diag.message = (dir / "run.json").string() + ": not a JSON object";
    return make_error_code(error::invalid_json);
  }
  const auto& ro = rv.get_object();
  auto str = [&](const char* k) {
    auto* v = ro.if_contains(k);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  auto number = [&](const char* k, double dflt) {
    auto* v = ro.if_contains(k);
    return v && v->is_number() ? v->to_number<double>() : dflt;
  };

  const auto requests_path = dir / "requests.jsonl";
  auto lines = slurp(requests_path, diag);
  if (!lines) return lines.error();
  std::vector<request_record> records;
  rebuilt_report out;
  std::string first_reason;
  std::size_t lineno = 0;
  for (std::size_t at = 0; at < lines->size();) {
    const auto nl = lines->find('\n', at);
    const std::string_view line = std::string_view(*lines).substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? lines->size() : nl + 1;
    ++lineno;
    if (line.empty()) continue;
    diagnostics d;
    auto r = parse_record_line(line, d);
    if (!r) {
      if (first_reason.empty())
        first_reason = (nl == std::string::npos ? "cut short (no newline at its end): " : "") + d.message;
      out.skipped_lines.push_back(lineno);
      continue;
    }
    records.push_back(std::move(*r));
  }
  const bool finished = std::filesystem::exists(dir / "summary.json");
  if (!out.skipped_lines.empty()) {
    const std::string where = requests_path.string() + ": line(s) " + line_list(out.skipped_lines) +
                              " cannot be read (first: " + first_reason + ")";
    if (finished) {
      // The run's own summary counted those records; one without them would be worse.
      diag.message = where + "; summary.json and the result files were left as they are. Repair or remove "
                     "those lines, and delete summary.json to rebuild from the rest";
      return make_error_code(error::invalid_json);
    }
    log << "pswm: warning: " << where << "; rebuilding from the other " << records.size() << " record(s)\n";
  }
  std::vector<node_timeline> timelines;
  if (std::filesystem::exists(dir / "timeline.json")) {
    auto t = slurp(dir / "timeline.json", diag);
    if (!t) return t.error();
    auto parsed = parse_timelines_json(*t, diag);
    if (!parsed) {
      diag.message = (dir / "timeline.json").string() + ": " + diag.message;
      return parsed.error();
    }
    timelines = std::move(*parsed);
  } else if (std::filesystem::exists(dir / "metrics_timeline.jsonl")) {
    // A killed run: the scrapes it appended as it went.
    auto t = slurp(dir / "metrics_timeline.jsonl", diag);
    if (!t) return t.error();
    std::vector<std::string> urls;
    if (auto* eps = ro.if_contains("endpoints"); eps && eps->is_array())
      for (const auto& e : eps->get_array())
        urls.push_back(e.is_string() ? std::string(e.get_string()) : std::string());
    std::size_t bad = 0;
    auto parsed = parse_metrics_timeline_jsonl(*t, urls, bad, diag);
    if (!parsed) {
      diag.message = (dir / "metrics_timeline.jsonl").string() + ": " + diag.message;
      return parsed.error();
    }
    timelines = std::move(*parsed);
    log << "pswm: " << (dir / "timeline.json").string() << " is missing (the run did not finish): server-side "
        << "numbers are read from metrics_timeline.jsonl"
        << (bad ? " (" + std::to_string(bad) + " unreadable line(s) left out)" : std::string()) << "\n";
  } else {
    log << "pswm: warning: " << (dir / "timeline.json").string()
        << " is missing (the run did not finish): server-side numbers are left out\n";
  }

  // The run's goodput bounds, as run.json recorded them, give the rebuilt summary its goodput.
  std::optional<goodput_spec> goodput;
  if (const auto g = str("goodput"); !g.empty()) {
    if (auto parsed = parse_goodput(g, diag)) {
      goodput = *parsed;
    } else {
      diag.message = (dir / "run.json").string() + ": " + diag.message;
      return parsed.error();
    }
  }
  fill_unreported_misses(records);  // as the run did: requests.jsonl holds what servers sent
  run_summary s = summarize(records, timelines, goodput);
  warn_skipped_readings(s, log);
  s.policy = str("policy");
  s.dataset = dataset_label(str("dataset_file"));
  s.average_interval_s = number("average_interval_s", 0);
  // A run that did not write its summary was interrupted; one that did says so itself.
  s.interrupted = true;
  if (auto old = slurp(dir / "summary.json", diag)) {
    auto sv = boost::json::parse(*old, ec);
    if (!ec && sv.is_object()) {
      if (auto* i = sv.get_object().if_contains("interrupted"); i && i->is_bool()) s.interrupted = i->get_bool();
      if (auto* c = sv.get_object().if_contains("clock"); c && c->is_string()) s.virtual_time = c->get_string() == "virtual";
    }
  }
  diag.clear();

  output_layout layout;
  layout.log_dir = dir;
  if (!options.fig_dir.empty()) {
    layout.fig_dir = options.fig_dir;
  } else {
    auto name = std::filesystem::absolute(dir).lexically_normal().filename().string();
    if (name.empty()) name = std::filesystem::absolute(dir).lexically_normal().parent_path().filename().string();
    if (name.rfind("log_", 0) == 0) name.replace(0, 4, "fig_");
    else name = "fig_" + name;
    layout.fig_dir = std::filesystem::absolute(dir).lexically_normal().parent_path() / name;
    if (std::filesystem::absolute(dir).lexically_normal().filename().empty())
      layout.fig_dir = std::filesystem::absolute(dir).lexically_normal().parent_path().parent_path() / name;
  }
  const double tick = std::max(number("metrics_interval_s", 0.1), 0.1);
  if (auto e = write_run_outputs(records, timelines, s, layout, tick, options.render_figures, log, diag)) return e;
  if (auto e = write_run_report(s, records, timelines, dir, read_emulator_facts(dir), diag)) return e;
  out.text = summary_text(s) + "Rebuilt " + dir.string() + " and " + layout.fig_dir.string() + "\n";
  return out;
}

}  // namespace planetserve::experiment
