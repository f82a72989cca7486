// SPDX-License-Identifier: MIT
// Tests for planetserve::error and its category.
#include <planetserve/error.hpp>

#include <catch2/catch.hpp>

#include <set>

namespace ps = planetserve;

TEST_CASE("error converts implicitly to an error_code in the planetserve category", "[error]") {
  boost::system::error_code ec = ps::error::malformed_line;
  CHECK(ec);
  CHECK(ec.category().name() == std::string("planetserve"));
  CHECK(ec == ps::error::malformed_line);
  CHECK(ec != ps::error::invalid_number);
  CHECK(ec.value() == static_cast<int>(ps::error::malformed_line));
}

TEST_CASE("every error has its own non-generic message", "[error]") {
  const ps::error all[] = {
      ps::error::malformed_line,   ps::error::unknown_escape,   ps::error::unterminated_string,
      ps::error::duplicate_label,  ps::error::invalid_number,   ps::error::negative_bucket_count,
      ps::error::invalid_json,     ps::error::missing_field,    ps::error::wrong_field_type,
      ps::error::line_too_long,    ps::error::invalid_utf8,     ps::error::empty_input,
      ps::error::connection_failed, ps::error::connection_closed, ps::error::timeout,
      ps::error::bad_status,       ps::error::body_too_large,   ps::error::bad_url,
      ps::error::tls_failed,       ps::error::cancelled,        ps::error::unauthorized,
      ps::error::not_found,        ps::error::bad_request,      ps::error::rate_limited,
      ps::error::server_error,     ps::error::stream_error,     ps::error::stream_incomplete,
      ps::error::invalid_argument, ps::error::file_not_found,   ps::error::file_unreadable,
      ps::error::file_unwritable,  ps::error::binary_file,      ps::error::internal_error,
      ps::error::header_too_large, ps::error::malformed_http,   ps::error::model_not_served,
      ps::error::node_not_ready,   ps::error::plot_failed,      ps::error::preflight_failed,
  };
  std::set<std::string> seen;
  for (auto e : all) {
    auto msg = ps::make_error_code(e).message();
    CHECK(msg != "unknown planetserve error");
    CHECK(seen.insert(msg).second);
  }
  CHECK(ps::make_error_code(static_cast<ps::error>(9999)).message() == "unknown planetserve error");
  // Records and outputs may carry the numbers: the ones added later did not move the others.
  CHECK(static_cast<int>(ps::error::cancelled) == 107);
  CHECK(static_cast<int>(ps::error::header_too_large) == 108);
  CHECK(static_cast<int>(ps::error::stream_incomplete) == 206);
  CHECK(static_cast<int>(ps::error::binary_file) == 304);
  CHECK(static_cast<int>(ps::error::preflight_failed) == 306);
}

TEST_CASE("result carries either a value or a planetserve error", "[error]") {
  auto parse_positive = [](int v) -> ps::result<int> {
    if (v <= 0) return ps::make_error_code(ps::error::invalid_argument);
    return v;
  };
  auto ok = parse_positive(3);
  REQUIRE(ok.has_value());
  CHECK(*ok == 3);
  auto bad = parse_positive(-1);
  REQUIRE(bad.has_error());
  CHECK(bad.error() == ps::error::invalid_argument);
}
