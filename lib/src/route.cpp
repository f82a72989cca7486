// SPDX-License-Identifier: MIT
// Compiles the router's sans-io pieces: request inspection, breaker, metrics (no coroutines: the fuzz build instruments it).
#include <planetserve/route/impl/breaker.ipp>
#include <planetserve/route/impl/request_inspection.ipp>
#include <planetserve/route/impl/router_metrics.ipp>
