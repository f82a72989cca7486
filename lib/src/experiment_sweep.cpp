// SPDX-License-Identifier: MIT
// Compiles load sweeps and SLO searches (the rate list, SLO checks, the search, the driver) and report.html with its SVG charts.
// GCC 12 takes Asio's recycling coroutine-frame delete for a mismatched one once a frame's
// allocation is inlined (-Wmismatched-new-delete); the warning is wrong for them, as in http.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <planetserve/experiment/impl/downsample.ipp>
#include <planetserve/experiment/impl/svg_chart.ipp>
#include <planetserve/experiment/impl/html_report.ipp>
#include <planetserve/experiment/impl/report_files.ipp>
#include <planetserve/experiment/impl/slo.ipp>
#include <planetserve/experiment/impl/sweep.ipp>
#include <planetserve/experiment/impl/sweep_runner.ipp>
