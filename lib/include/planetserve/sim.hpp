// SPDX-License-Identifier: MIT
// <planetserve/sim.hpp>: every public header of the sim module: the vLLM emulator: sans-io engine, KV cache, metrics, and its HTTP nodes and fleet.
#pragma once

#include <planetserve/sim/chat_template.hpp>
#include <planetserve/sim/engine.hpp>
#include <planetserve/sim/engine_stats.hpp>
#include <planetserve/sim/fault_injection.hpp>
#include <planetserve/sim/fleet.hpp>
#include <planetserve/sim/kv_cache.hpp>
#include <planetserve/sim/kv_event_publisher.hpp>
#include <planetserve/sim/metrics_writer.hpp>
#include <planetserve/sim/node_server.hpp>
#include <planetserve/sim/profile.hpp>
#include <planetserve/sim/python_float.hpp>
#include <planetserve/sim/random.hpp>
#include <planetserve/sim/text_generator.hpp>
#include <planetserve/sim/vllm_version.hpp>
