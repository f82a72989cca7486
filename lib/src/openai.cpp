// SPDX-License-Identifier: MIT
// Compiles the OpenAI request builders, chunk decoder, streaming call and side-endpoint helpers.
// GCC 12 flags Asio's coroutine frames (their own operator new/delete pair) with a false
// -Wmismatched-new-delete once enough is inlined; the warning is wrong for them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <planetserve/openai/impl/request_builder.ipp>
#include <planetserve/openai/impl/chunk_decoder.ipp>
#include <planetserve/openai/impl/error_body.ipp>
#include <planetserve/openai/impl/stream_completion.ipp>
#include <planetserve/openai/impl/server_info.ipp>
