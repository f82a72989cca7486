// SPDX-License-Identifier: MIT
// The chunk decoder's two paths, exposed so tests and the fuzzer can hold them to agreement.
#pragma once

#include <planetserve/openai/chunk_decoder.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace planetserve::openai::detail {

/// The fast path: one hand-written pass over the text that understands well-formed chunks
/// only. Returns true when `out` (cleared first) holds the answer. Anything unusual (an error
/// object, a known field of another type or repeated, an escaped key, a count that is not a
/// plain unsigned integer, a number it would have to judge, invalid JSON or UTF-8, nesting
/// deeper than 32) returns false, and decode_full decides, so the two agree by construction:
/// whenever scan_chunk returns true, decode_full succeeds with the same chunk.
bool scan_chunk(std::string_view text, chunk& out);

/// scan_chunk with `frame`: tries the remembered frame first, and remembers this chunk's.
bool scan_chunk(std::string_view text, chunk& out, chunk_frame& frame);

/// The reference path: Boost.JSON's DOM (parsed into `scratch` first, the heap after), every
/// rule and every error message of chunk_decoder::decode.
boost::system::error_code decode_full(std::string_view text, chunk& out, diagnostics& diag,
                                      unsigned char* scratch, std::size_t scratch_size);

}  // namespace planetserve::openai::detail
