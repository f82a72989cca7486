// SPDX-License-Identifier: MIT
// Catch2's main for planetserve_tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
