// SPDX-License-Identifier: MIT
// <planetserve/workload.hpp>: every public header of the workload module: JSONL datasets, arrival processes, generators and dataset statistics.
#pragma once

#include <planetserve/workload/arrivals.hpp>
#include <planetserve/workload/chat_message.hpp>
#include <planetserve/workload/dataset.hpp>
#include <planetserve/workload/dataset_stats.hpp>
#include <planetserve/workload/decision_fixture.hpp>
#include <planetserve/workload/generator.hpp>
#include <planetserve/workload/rng.hpp>
