// SPDX-License-Identifier: MIT
// <planetserve/http.hpp>: every public header of the http module: the coroutine HTTP/1.1 client and server, URL parsing and the SSE parser.
#pragma once

#include <planetserve/http/busy_poll.hpp>
#include <planetserve/http/client.hpp>
#include <planetserve/http/failure.hpp>
#include <planetserve/http/server.hpp>
#include <planetserve/http/sse_parser.hpp>
#include <planetserve/http/url.hpp>
