// SPDX-License-Identifier: MIT
// <planetserve/dispatch.hpp>: every public header of the dispatch module: routing policies (rr, lb, hrt, ...), the policy interface and offline replay.
#pragma once

#include <planetserve/dispatch/cache_aware_policy.hpp>
#include <planetserve/dispatch/decision.hpp>
#include <planetserve/dispatch/fleet_view.hpp>
#include <planetserve/dispatch/hrt_policy.hpp>
#include <planetserve/dispatch/kv_event_sink.hpp>
#include <planetserve/dispatch/lb_policy.hpp>
#include <planetserve/dispatch/least_loaded_policy.hpp>
#include <planetserve/dispatch/live_load.hpp>
#include <planetserve/dispatch/make_policy.hpp>
#include <planetserve/dispatch/node_stats.hpp>
#include <planetserve/dispatch/outcome.hpp>
#include <planetserve/dispatch/p2c_policy.hpp>
#include <planetserve/dispatch/policy.hpp>
#include <planetserve/dispatch/policy_config.hpp>
#include <planetserve/dispatch/precise_policy.hpp>
#include <planetserve/dispatch/random_policy.hpp>
#include <planetserve/dispatch/replay.hpp>
#include <planetserve/dispatch/request_view.hpp>
#include <planetserve/dispatch/rr_policy.hpp>
#include <planetserve/dispatch/seed_lb_policy.hpp>
#include <planetserve/dispatch/seeded_policy.hpp>
#include <planetserve/dispatch/session_policy.hpp>
