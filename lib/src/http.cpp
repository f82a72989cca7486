// SPDX-License-Identifier: MIT
// Compiles the HTTP client, server and URL parser.
// GCC 12 flags Asio's coroutine frames (their own operator new/delete pair) with a false
// -Wmismatched-new-delete once enough is inlined; the warning is wrong for them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <planetserve/http/impl/url.ipp>
#include <planetserve/http/impl/failure.ipp>
#include <planetserve/http/impl/client.ipp>
#include <planetserve/http/impl/server.ipp>
