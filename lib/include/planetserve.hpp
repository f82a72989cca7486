// SPDX-License-Identifier: MIT
// <planetserve.hpp>: the whole library (needs planetserve::planetserve); core-only users include module headers.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/version.hpp>

// planetserve::core
#include <planetserve/dispatch.hpp>
#include <planetserve/hrtree.hpp>
#include <planetserve/kvevents.hpp>
#include <planetserve/prom.hpp>
#include <planetserve/tokenize.hpp>

// planetserve::net
#include <planetserve/experiment.hpp>
#include <planetserve/http.hpp>
#include <planetserve/openai.hpp>
#include <planetserve/route.hpp>
#include <planetserve/sim.hpp>
#include <planetserve/workload.hpp>
