// SPDX-License-Identifier: MIT
// Compiled body of sim::python_repr and sim::go_float_string.
#pragma once

#include <planetserve/sim/python_float.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>

namespace planetserve::sim {

std::string python_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  // Shortest round-trip digits, as Python's repr uses; then lay them out Python's way.
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
  const auto epos = sci.find('e');
  std::string_view mant = sci.substr(0, epos);
  const int exp10 = std::atoi(std::string(sci.substr(epos + 1)).c_str());
  std::string out;
  if (mant.front() == '-') {
    out += '-';
    mant.remove_prefix(1);
  }
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  const int nd = static_cast<int>(digits.size());
  if (exp10 >= -4 && exp10 < 16) {
    if (exp10 < 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-exp10 - 1), '0');
      out += digits;
    } else if (exp10 + 1 >= nd) {
      out += digits;
      out.append(static_cast<std::size_t>(exp10 + 1 - nd), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(exp10 + 1));
      out += '.';
      out += digits.substr(static_cast<std::size_t>(exp10 + 1));
    }
    return out;
  }
  out += digits[0];
  if (nd > 1) {
    out += '.';
    out += digits.substr(1);
  }
  out += 'e';
  out += exp10 < 0 ? '-' : '+';
  const int a = std::abs(exp10);
  if (a < 10) out += '0';
  out += std::to_string(a);
  return out;
}

std::string go_float_string(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::string s = python_repr(v);
  const auto dot = s.find('.');
  // prometheus_client: "Go switches to exponents sooner than Python."
  if (v > 0 && dot != std::string::npos && dot > 6) {
    std::string mantissa = s.substr(0, 1) + "." + s.substr(1, dot - 1) + s.substr(dot + 1);
    // rstrip('0.'): drop trailing zeros and dots.
    while (!mantissa.empty() && (mantissa.back() == '0' || mantissa.back() == '.')) mantissa.pop_back();
    return mantissa + "e+0" + std::to_string(dot - 1);
  }
  return s;
}

}  // namespace planetserve::sim
