// SPDX-License-Identifier: MIT
// <planetserve/openai.hpp>: every public header of the openai module: OpenAI-compatible request bodies, stream decoding, streaming calls and side endpoints.
#pragma once

#include <planetserve/openai/chunk_decoder.hpp>
#include <planetserve/openai/error_body.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/openai/server_info.hpp>
#include <planetserve/openai/stream_completion.hpp>
