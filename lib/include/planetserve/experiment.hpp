// SPDX-License-Identifier: MIT
// <planetserve/experiment.hpp>: every public header of the experiment module: the experiment runner, its records, summaries, reports and charts.
#pragma once

#include <planetserve/experiment/atomic_file.hpp>
#include <planetserve/experiment/cache_prediction.hpp>
#include <planetserve/experiment/downsample.hpp>
#include <planetserve/experiment/epoch_core.hpp>
#include <planetserve/experiment/memory_estimate.hpp>
#include <planetserve/experiment/metrics_page.hpp>
#include <planetserve/experiment/node_timeline.hpp>
#include <planetserve/experiment/output_layout.hpp>
#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/progress.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/report_files.hpp>
#include <planetserve/experiment/report_rebuild.hpp>
#include <planetserve/experiment/request_record.hpp>
#include <planetserve/experiment/run_charts.hpp>
#include <planetserve/experiment/run_config.hpp>
#include <planetserve/experiment/run_outputs.hpp>
#include <planetserve/experiment/runner.hpp>
#include <planetserve/experiment/goodput.hpp>
#include <planetserve/experiment/html_report.hpp>
#include <planetserve/experiment/kv_event_subscriber.hpp>
#include <planetserve/experiment/seed_summary.hpp>
#include <planetserve/experiment/session_settings.hpp>
#include <planetserve/experiment/session_source.hpp>
#include <planetserve/experiment/slo.hpp>
#include <planetserve/experiment/stats.hpp>
#include <planetserve/experiment/virtual_fleet.hpp>
#include <planetserve/experiment/summary.hpp>
#include <planetserve/experiment/svg_chart.hpp>
#include <planetserve/experiment/sweep.hpp>
#include <planetserve/experiment/sweep_runner.hpp>
#include <planetserve/experiment/wait_group.hpp>
