// SPDX-License-Identifier: MIT
// <planetserve/route.hpp>: every public header of the route module: the live OpenAI-compatible router and its reusable pieces.
#pragma once

#include <planetserve/route/breaker.hpp>
#include <planetserve/route/request_inspection.hpp>
#include <planetserve/route/router.hpp>
#include <planetserve/route/router_config.hpp>
#include <planetserve/route/router_metrics.hpp>
