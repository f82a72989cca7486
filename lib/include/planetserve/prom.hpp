// SPDX-License-Identifier: MIT
// <planetserve/prom.hpp>: every public header of the prom module: the Prometheus text parser, the page model and the vLLM metric model.
#pragma once

#include <planetserve/prom/counter_growth.hpp>
#include <planetserve/prom/page.hpp>
#include <planetserve/prom/parser.hpp>
#include <planetserve/prom/sample.hpp>
#include <planetserve/prom/vllm_interval.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>
