// SPDX-License-Identifier: MIT
// Range-checked conversions of parsed numbers (JSON, JSONL, /metrics, flags) to integers and durations.
#pragma once

#include <planetserve/error.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace planetserve::detail {

/// 2^digits of T as a double: exact, and the first value past T's largest (truncated) value.
template <std::integral T>
constexpr double past_max() noexcept {
  double h = 1.0;
  for (int i = 0; i < std::numeric_limits<T>::digits; ++i) h *= 2.0;
  return h;
}

/// `v` as T when it fits; nullopt otherwise. A double converts when it is finite and its
/// truncation toward zero (what static_cast does) lies in T's range; a negative one never
/// converts to an unsigned T. Casting a double outside the range is undefined behaviour, so
/// every number read from a file, a server or a flag goes through here before a cast.
template <std::integral T, class S>
  requires std::is_arithmetic_v<S> && (!std::is_same_v<T, bool>)
constexpr std::optional<T> checked_cast(S v) noexcept {
  if constexpr (std::is_integral_v<S>) {
    if (!std::in_range<T>(v)) return std::nullopt;
    return static_cast<T>(v);
  } else {
    const double d = static_cast<double>(v);
    constexpr double hi = past_max<T>();
    constexpr double lo = std::is_signed_v<T> ? -hi : 0.0;
    if (!(d >= lo && d < hi)) return std::nullopt;  // NaN fails both comparisons
    return static_cast<T>(d);
  }
}

/// An integer `v` as T, clamped to T's range: for counts a server reports that a record can
/// only hold up to T's largest value.
template <std::integral T, std::integral S>
constexpr T saturate_cast(S v) noexcept {
  if (std::cmp_less(v, std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
  if (std::cmp_greater(v, std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

/// `seconds` as a duration D when it is finite, 0 or more and within D's ticks; nullopt
/// otherwise (duration_cast from a double duration out of range is undefined).
template <class D>
std::optional<D> checked_seconds(double seconds) noexcept {
  if (!(seconds >= 0)) return std::nullopt;
  using period = typename D::period;
  const double ticks = seconds * static_cast<double>(period::den) / static_cast<double>(period::num);
  auto t = checked_cast<typename D::rep>(ticks);
  if (!t) return std::nullopt;
  return D(*t);
}

/// "<what> is <v>, not a whole number from <min> to <max>": the diagnostic for a number
/// checked_cast refused.
template <std::integral T>
std::string out_of_range_message(std::string_view what, double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string out(what);
  out += " is ";
  out.append(buf, r.ptr);
  out += ", not a whole number from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
         std::to_string(std::numeric_limits<T>::max());
  return out;
}

/// checked_cast with the diagnostic: error::invalid_number and out_of_range_message() when `v`
/// does not fit T. `what` names the field (and the file and line when the caller knows them).
template <std::integral T>
result<T> checked_number(double v, std::string_view what, diagnostics& diag) {
  if (auto t = checked_cast<T>(v)) return *t;
  diag.message = out_of_range_message<T>(what, v);
  return make_error_code(error::invalid_number);
}

}  // namespace planetserve::detail
