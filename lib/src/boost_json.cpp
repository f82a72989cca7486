// SPDX-License-Identifier: MIT
// The one translation unit that compiles Boost.JSON (planetserve::core, used by net as well).
#include <boost/json/src.hpp>
