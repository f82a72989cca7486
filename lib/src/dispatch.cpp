// SPDX-License-Identifier: MIT
// Compiles the dispatch policies.
#include <planetserve/dispatch/impl/policy.ipp>
#include <planetserve/dispatch/impl/simple_policies.ipp>
#include <planetserve/dispatch/impl/lb_policy.ipp>
#include <planetserve/dispatch/impl/seed_lb_policy.ipp>
#include <planetserve/dispatch/impl/cache_aware_policy.ipp>
#include <planetserve/dispatch/impl/hrt_policy.ipp>
#include <planetserve/dispatch/impl/session_policy.ipp>
#include <planetserve/dispatch/impl/precise_policy.ipp>
#include <planetserve/dispatch/impl/make_policy.ipp>
#include <planetserve/dispatch/impl/replay.ipp>
