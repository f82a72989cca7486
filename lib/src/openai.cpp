// SPDX-License-Identifier: MIT
// Compiles the OpenAI request builders, chunk decoder and streaming call.
#include <planetserve/openai/impl/request_builder.ipp>
#include <planetserve/openai/impl/chunk_decoder.ipp>
#include <planetserve/openai/impl/stream_completion.ipp>
