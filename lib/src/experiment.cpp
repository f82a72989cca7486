// SPDX-License-Identifier: MIT
// Compiles the experiment pipeline: outputs, records, summary, reports, plots.
#include <planetserve/experiment/impl/atomic_file.ipp>
#include <planetserve/experiment/impl/output_layout.ipp>
#include <planetserve/experiment/impl/metrics_page.ipp>
#include <planetserve/experiment/impl/plot.ipp>
#include <planetserve/experiment/impl/cache_prediction.ipp>
#include <planetserve/experiment/impl/goodput.ipp>
#include <planetserve/experiment/impl/summary.ipp>
#include <planetserve/experiment/impl/seed_summary.ipp>
#include <planetserve/experiment/impl/report.ipp>
#include <planetserve/experiment/impl/run_charts.ipp>
#include <planetserve/experiment/impl/epoch_core.ipp>
#include <planetserve/experiment/impl/progress.ipp>
#include <planetserve/experiment/impl/session_source.ipp>
#include <planetserve/experiment/impl/memory_estimate.ipp>
#include <planetserve/experiment/impl/virtual_fleet.ipp>
#include <planetserve/experiment/impl/runner.ipp>
#include <planetserve/experiment/impl/run_outputs.ipp>
