// SPDX-License-Identifier: MIT
// Tests for planetserve::http::parse_url.
#include <planetserve/http/url.hpp>

#include <catch2/catch.hpp>

namespace ps = planetserve;
using planetserve::http::parse_url;

TEST_CASE("http url: scheme, host, port, target", "[http][url]") {
  ps::diagnostics diag;
  auto u = parse_url("http://localhost:8000/v1/models?x=1", diag);
  REQUIRE(u.has_value());
  CHECK_FALSE(u->tls);
  CHECK(u->host == "localhost");
  CHECK(u->port == 8000);
  CHECK(u->target == "/v1/models?x=1");
  CHECK(u->origin() == "http://localhost:8000");

  u = parse_url("HTTPS://example.com", diag);
  REQUIRE(u.has_value());
  CHECK(u->tls);
  CHECK(u->port == 443);
  CHECK(u->target == "/");

  u = parse_url("http://[::1]:9/metrics", diag);
  REQUIRE(u.has_value());
  CHECK(u->host == "::1");
  CHECK(u->port == 9);
  CHECK(u->origin() == "http://[::1]:9");

  u = parse_url("http://h?q", diag);
  REQUIRE(u.has_value());
  CHECK(u->port == 80);
  CHECK(u->target == "/?q");
}

TEST_CASE("http url: errors name the URL and the problem", "[http][url]") {
  const char* bad[] = {"localhost:8000",      "ftp://x",          "http://",
                       "http://:80/",         "http://h:0",       "http://h:65536",
                       "http://h:8x",         "http://h:",        "http://user@h/",
                       "http://[::1/",        "http://h/a b",     "http://h/#frag",
                       "http://[::1]x"};
  for (const char* text : bad) {
    ps::diagnostics diag;
    auto u = parse_url(text, diag);
    INFO(text);
    REQUIRE_FALSE(u.has_value());
    CHECK(u.error() == ps::error::bad_url);
    // The URL is named, except its user info, which may hold a password.
    const std::string shown = std::string_view(text) == "http://user@h/" ? "http://<user-info>@h/" : text;
    CHECK(diag.message.find(shown) != std::string::npos);
  }
}

TEST_CASE("http url: a password in the user info never reaches the message", "[http][url]") {
  for (const char* text : {"http://alice:hunter2@h:8000/v1", "https://alice:hunter2@[::1]/", "http://:hunter2@h"}) {
    ps::diagnostics diag;
    INFO(text);
    REQUIRE_FALSE(parse_url(text, diag).has_value());
    INFO(diag.message);
    CHECK(diag.message.find("hunter2") == std::string::npos);
    CHECK(diag.message.find("alice") == std::string::npos);
    CHECK(diag.message.find("<user-info>@") != std::string::npos);
    CHECK(diag.message.find("--api-key") != std::string::npos);
  }
}
