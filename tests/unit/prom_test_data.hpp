// SPDX-License-Identifier: MIT
// Reads a Prometheus page from tests/data/prom/ for the prom tests.
#pragma once

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace prom_test {

inline std::string read_page(const std::string& name) {
  // Appended piecewise: GCC 12 warns falsely (-Warray-bounds) on a chain of string +.
  std::string path = PLANETSERVE_TEST_DATA_DIR;
  path += "/prom/";
  path += name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace prom_test
