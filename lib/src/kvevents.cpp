// SPDX-License-Identifier: MIT
// Compiles the KV-event codec, stream and block index (no Asio, no ZeroMQ: part of planetserve::core).
#include <planetserve/kvevents/impl/block_index.ipp>
#include <planetserve/kvevents/impl/codec.ipp>
#include <planetserve/kvevents/impl/event_stream.ipp>
