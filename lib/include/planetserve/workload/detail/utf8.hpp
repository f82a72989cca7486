// SPDX-License-Identifier: MIT
// UTF-8 validation: well-formed sequences only (no overlongs, surrogates or values past U+10FFFF).
#pragma once

#include <planetserve/detail/sanitize.hpp>

#include <cstddef>
#include <string_view>

namespace planetserve::workload::detail {

/// Offset of the first byte that starts an ill-formed sequence, or npos if `s` is valid UTF-8.
inline std::size_t find_invalid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = planetserve::detail::sanitize_impl::utf8_length(p, i, s.size());
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

}  // namespace planetserve::workload::detail
