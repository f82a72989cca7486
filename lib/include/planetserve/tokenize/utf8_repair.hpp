// SPDX-License-Identifier: MIT
// tokenize::repair_utf8: invalid UTF-8 replaced by U+FFFD, as a browser or Node.js decodes it.
#pragma once

#include <string>
#include <string_view>

namespace planetserve::tokenize {

/// Whether `text` is well-formed UTF-8 (no surrogates, no overlong forms, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view text) noexcept;

/// Appends `text` to `out` with every maximal ill-formed subsequence replaced by U+FFFD
/// (the WHATWG Encoding Standard's decoder, which Node.js's `Buffer.toString` and
/// `TextDecoder` follow): a lead byte whose sequence breaks off gives one U+FFFD and the
/// breaking byte is read again; a stray continuation byte or an impossible byte gives one each.
void repair_utf8(std::string_view text, std::string& out);

}  // namespace planetserve::tokenize
