// SPDX-License-Identifier: MIT
// Compiles route::router, the router's coroutine shell (kept apart from route.cpp, the sans-io pieces).
// GCC 12 flags Asio's coroutine frames (their own operator new/delete pair) with a false
// -Wmismatched-new-delete once enough is inlined; the warning is wrong for them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <planetserve/route/impl/router.ipp>
