// SPDX-License-Identifier: MIT
// sim::python_repr / go_float_string: numbers written exactly as Python's prometheus_client writes them.
#pragma once

#include <string>

namespace planetserve::sim {

/// Python's repr(float): the shortest digits that round-trip, in fixed notation when the
/// decimal exponent is in [-4, 16) (always with a fractional part: "1.0", "0.0001"),
/// otherwise scientific with at least two exponent digits ("1e+16", "1.5e-05"); "inf",
/// "-inf", "nan".
std::string python_repr(double v);

/// prometheus_client's floatToGoString: "+Inf", "-Inf", "NaN"; positive numbers of
/// seven or more integer digits in Go's style ("1e+06", "1.764270000123456e+09",
/// including Python's quirk "e+010" for ten-digit exponents); everything else python_repr.
std::string go_float_string(double v);

}  // namespace planetserve::sim
