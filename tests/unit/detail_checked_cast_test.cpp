// SPDX-License-Identifier: MIT
// Tests for the checked conversions that every parsed number goes through before an integer cast.
#include <planetserve/detail/checked_cast.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <limits>

namespace {

using planetserve::detail::checked_cast;
constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

}  // namespace

TEST_CASE("checked_cast: doubles outside the target's range, NaN and infinities are refused", "[checked_cast]") {
  for (double bad : {not_a_number, infinity, -infinity, -1.0, -0.5, 1e20, 4294967296.0, 1e308})
    CHECK_FALSE(checked_cast<std::uint32_t>(bad).has_value());
  CHECK(checked_cast<std::uint32_t>(4294967295.0) == 4294967295u);
  CHECK(checked_cast<std::uint32_t>(-0.0) == 0u);
  CHECK(checked_cast<std::uint32_t>(7.9) == 7u);  // truncated toward zero, as static_cast does
  // 2^64 is the first double past uint64; 2^63 the first past int64.
  CHECK_FALSE(checked_cast<std::uint64_t>(18446744073709551616.0).has_value());
  CHECK(checked_cast<std::uint64_t>(18446744073709549568.0) == 18446744073709549568ull);
  CHECK_FALSE(checked_cast<std::int64_t>(9223372036854775808.0).has_value());
  CHECK(checked_cast<std::int64_t>(-9223372036854775808.0) == std::numeric_limits<std::int64_t>::min());
  CHECK(checked_cast<std::int32_t>(-2147483648.0) == std::numeric_limits<std::int32_t>::min());
  CHECK_FALSE(checked_cast<std::int32_t>(2147483648.0).has_value());
  CHECK(checked_cast<int>(-3.7) == -3);
  CHECK_FALSE(checked_cast<std::uint16_t>(65536.0).has_value());
}

TEST_CASE("checked_cast: integers convert only when the value fits", "[checked_cast]") {
  CHECK_FALSE(checked_cast<std::uint32_t>(std::uint64_t{1} << 32).has_value());
  CHECK_FALSE(checked_cast<std::size_t>(std::int64_t{-1}).has_value());
  CHECK_FALSE(checked_cast<std::int8_t>(200).has_value());
  CHECK(checked_cast<std::uint32_t>(std::int64_t{4294967295}) == 4294967295u);
  CHECK(planetserve::detail::saturate_cast<std::uint32_t>(std::uint64_t{1} << 40) == 4294967295u);
  CHECK(planetserve::detail::saturate_cast<std::uint32_t>(-5) == 0u);
  CHECK(planetserve::detail::saturate_cast<std::uint32_t>(std::size_t{12}) == 12u);
}

TEST_CASE("checked_seconds: durations past the clock's ticks are refused", "[checked_cast]") {
  using planetserve::detail::checked_seconds;
  CHECK(checked_seconds<std::chrono::milliseconds>(1.5) == std::chrono::milliseconds(1500));
  CHECK(checked_seconds<std::chrono::nanoseconds>(0.0) == std::chrono::nanoseconds(0));
  for (double bad : {not_a_number, infinity, -1.0, 1e10, 1e300}) {
    INFO(bad);
    CHECK_FALSE(checked_seconds<std::chrono::nanoseconds>(bad).has_value());
  }
  CHECK(checked_seconds<std::chrono::milliseconds>(1e10).has_value());  // 1e13 ms fits
}

TEST_CASE("checked_number: a refusal says which field, what value and the allowed range", "[checked_cast]") {
  planetserve::diagnostics diag;
  auto r = planetserve::detail::checked_number<std::uint32_t>(1e20, "x.jsonl:3: prompt_tokens", diag);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == planetserve::error::invalid_number);
  CHECK(diag.message == "x.jsonl:3: prompt_tokens is 1e+20, not a whole number from 0 to 4294967295");
  auto n = planetserve::detail::checked_number<std::uint32_t>(not_a_number, "n", diag);
  REQUIRE_FALSE(n.has_value());
  CHECK(diag.message.find("n is nan") == 0);
  auto ok = planetserve::detail::checked_number<int>(-12.0, "n", diag);
  REQUIRE(ok.has_value());
  CHECK(*ok == -12);
}
