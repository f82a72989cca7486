// SPDX-License-Identifier: MIT
// Compiles the HTTP client, server and URL parser.
#include <planetserve/http/impl/url.ipp>
#include <planetserve/http/impl/client.ipp>
#include <planetserve/http/impl/server.ipp>
