// SPDX-License-Identifier: MIT
// Formats a double the way Python's repr() does ("0.5", "1.0", "1e-05", "inf"), shared by
// the output-folder names (the seed writes f"log_{dataset}_{interval}") and /metrics pages.
#pragma once

#include <charconv>
#include <cmath>
#include <string>

namespace planetserve::detail {

/// Appends Python's repr(float(v)) to `out`.
inline void append_python_float(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "nan";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "inf" : "-inf";
    return;
  }
  char buf[32];
  // Python uses the shortest round-trip digits, in scientific form when the decimal exponent
  // is < -4 or >= 16, else fixed; std::to_chars' shortest form picks differently, so decide
  // the form here from the exponent of the shortest scientific representation.
  auto sci = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view s(buf, static_cast<std::size_t>(sci.ptr - buf));
  const auto epos = s.find('e');
  const int exponent = std::stoi(std::string(s.substr(epos + 1)));
  if (exponent < -4 || exponent >= 16) {
    // Python: mantissa without trailing ".0", exponent with sign and at least two digits.
    std::string_view mant = s.substr(0, epos);
    out.append(mant);
    out += 'e';
    out += exponent < 0 ? '-' : '+';
    const int ax = exponent < 0 ? -exponent : exponent;
    if (ax < 10) out += '0';
    out += std::to_string(ax);
    return;
  }
  auto fixed = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  std::string_view f(buf, static_cast<std::size_t>(fixed.ptr - buf));
  out.append(f);
  if (f.find('.') == std::string_view::npos) out += ".0";
}

/// Python's repr(float(v)).
inline std::string python_float(double v) {
  std::string s;
  append_python_float(s, v);
  return s;
}

}  // namespace planetserve::detail
