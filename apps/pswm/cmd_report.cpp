// SPDX-License-Identifier: MIT
// pswm report: re-render a saved run's summary and figures from its log folder.
#include "cli.hpp"
#include "commands.hpp"

#include <planetserve/experiment/report_rebuild.hpp>

#include <iostream>

namespace pswm {

int cmd_report(int argc, char** argv) {
  std::string log_dir;
  std::string fig_dir;
  bool no_plots = false;
  cli::po::options_description opts("Options");
  opts.add_options()
      ("log-dir", cli::po::value(&log_dir), "a run's log_<dataset>_<interval>[_<policy>]/ folder")
      ("fig-dir", cli::po::value(&fig_dir), "where to write the figures (default: the matching fig_*/ beside it)")
      ("no-plots", cli::po::bool_switch(&no_plots), "write the chart scripts but do not run gnuplot");
  cli::po::positional_options_description pos;
  pos.add("log-dir", 1);
  int code = cli::exit_ok;
  auto vm = cli::parse(argc, argv,
                       "Usage: pswm report LOGDIR [--fig-dir DIR]\n\n"
                       "Rebuilds summary.json, <dataset>_summary.txt, experiment_results.json,\n"
                       "throughput_records.json and the figures from requests.jsonl, timeline.json\n"
                       "and run.json in LOGDIR, and prints the summary. Lines of requests.jsonl that\n"
                       "cannot be read stop it without writing anything when the run wrote its own\n"
                       "summary.json (exit 1); a run without one (it was killed) is rebuilt from the\n"
                       "readable lines, naming the others (exit 3).",
                       opts, &pos, code);
  if (!vm) return code;
  if (log_dir.empty()) throw cli::usage_error("give the run's log folder, e.g. pswm report log_mixed_0.5");

  planetserve::diagnostics diag;
  planetserve::experiment::rebuild_options o;
  o.log_dir = log_dir;
  o.fig_dir = fig_dir;
  o.render_figures = !no_plots;
  auto r = planetserve::experiment::rebuild_report(o, std::cerr, diag);
  if (!r) {
    std::cerr << "pswm report: " << diag.message << "\n";
    return cli::exit_failure;
  }
  std::cout << r->text;
  if (!r->skipped_lines.empty()) {
    std::cerr << "pswm report: outputs incomplete: " << r->skipped_lines.size()
              << " line(s) of requests.jsonl were left out (listed above)\n";
    return cli::exit_incomplete;
  }
  return cli::exit_ok;
}

}  // namespace pswm
