// SPDX-License-Identifier: MIT
// <planetserve/workload.hpp>: every public header of the workload module: JSONL datasets, arrival processes, generators and dataset statistics.
#pragma once

#include <planetserve/workload/arrivals.hpp>
#include <planetserve/workload/chat_message.hpp>
#include <planetserve/workload/dataset.hpp>
#include <planetserve/workload/dataset_stats.hpp>
#include <planetserve/workload/decision_fixture.hpp>
#include <planetserve/workload/generator.hpp>
#include <planetserve/workload/reuse_ceiling.hpp>
#include <planetserve/workload/rng.hpp>
#include <planetserve/workload/session.hpp>
#include <planetserve/workload/session_generator.hpp>
#include <planetserve/workload/trace.hpp>
#include <planetserve/workload/trace_generator.hpp>
#include <planetserve/workload/workload_stats.hpp>
