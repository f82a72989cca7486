// SPDX-License-Identifier: MIT
// Compiles the workload module: JSONL reader/writer, arrival processes, generators, stats.
#include <planetserve/workload/impl/arrivals.ipp>
#include <planetserve/workload/impl/dataset.ipp>
#include <planetserve/workload/impl/dataset_stats.ipp>
#include <planetserve/workload/impl/decision_fixture.ipp>
#include <planetserve/workload/impl/generator.ipp>
#include <planetserve/workload/impl/session.ipp>
#include <planetserve/workload/impl/session_generator.ipp>
#include <planetserve/workload/impl/reuse_ceiling.ipp>
#include <planetserve/workload/impl/trace.ipp>
#include <planetserve/workload/impl/trace_generator.ipp>
#include <planetserve/workload/impl/workload_stats.ipp>
