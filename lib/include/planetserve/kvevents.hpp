// SPDX-License-Identifier: MIT
// <planetserve/kvevents.hpp>: every public header of the kvevents module: vLLM's KV-cache events, their msgpack codec, the in-order stream and the exact block index built on them.
#pragma once

#include <planetserve/kvevents/block_index.hpp>
#include <planetserve/kvevents/codec.hpp>
#include <planetserve/kvevents/event.hpp>
#include <planetserve/kvevents/event_stream.hpp>
