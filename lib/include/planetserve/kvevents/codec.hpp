// SPDX-License-Identifier: MIT
// kvevents::codec: KVEventBatch <-> msgpack bytes as vLLM's ZMQ publisher sends them (sans-io).
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/kvevents/event.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace planetserve::kvevents {

/// How msgspec lays a struct out: vLLM's events are `array_like` (fields by position, the
/// tag first), but a struct can also be a map of field names (the tag under "type").
enum class struct_form : std::uint8_t {
  array,  ///< [tag, field, ...] and [ts, events, data_parallel_rank] (vLLM's)
  map,    ///< {"type": tag, "field": ...}
};

/// The msgpack payload of `batch`, as vLLM's publisher encodes a KVEventBatch.
std::vector<std::uint8_t> encode_batch(const event_batch& batch, struct_form form = struct_form::array);

/// Decodes a payload in either form. Unknown fields are skipped, as are events of an unknown
/// kind (counted in ignored_events); missing trailing fields take vLLM's defaults. Fails with
/// error::malformed_line, `diag` saying where, on anything else: truncated or malformed
/// msgpack, a field of the wrong type, token ids outside 32 bits, trailing bytes.
result<event_batch> decode_batch(std::span<const std::uint8_t> payload, diagnostics& diag);

/// The sequence-number frame: 8 bytes, big-endian.
std::array<std::uint8_t, 8> encode_sequence(std::int64_t seq) noexcept;

/// A sequence-number frame's value (signed: the replay socket ends with -1), or nothing if
/// the frame is not 8 bytes.
std::optional<std::int64_t> decode_sequence(std::span<const std::uint8_t> frame) noexcept;

/// The replay socket's end-of-replay sequence number.
inline constexpr std::int64_t end_of_replay = -1;

}  // namespace planetserve::kvevents
