// SPDX-License-Identifier: MIT
// Compiled body of sim::python_repr and sim::go_float_string.
#pragma once

#include <planetserve/detail/python_float.hpp>
#include <planetserve/sim/python_float.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>

namespace planetserve::sim {

// One implementation of Python's repr(float) serves the whole library.
std::string python_repr(double v) { return planetserve::detail::python_float(v); }

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
