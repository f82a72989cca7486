// SPDX-License-Identifier: MIT
// counter_growth: how much one counter grew over a series of scrapes, telling restarts from bad readings.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>

namespace planetserve::prom {

/// What a counter's readings add up to.
struct counter_growth {
  double growth = 0;         ///< total increase over the readings, across restarts
  std::size_t skipped = 0;   ///< readings left out: NaN, missing (NaN), negative, or a dip the counter came back from
  std::size_t restarts = 0;  ///< falls taken as the server restarting from zero
};

/// Growth of one counter read in time order. A fall is a restart (the new reading is growth
/// since it) only when what follows is consistent with one: the counter grows again while
/// still below where it fell from. A dip it comes back from (a scrape that read 0 or lacked
/// the series) is skipped, so the lifetime count is never added back; a fall at the last
/// readings, with nothing after it to tell, is skipped too. NaN readings are skipped.
inline counter_growth growth_of(std::span<const double> readings) {
  counter_growth out;
  const std::size_t n = readings.size();
  auto usable = [&](std::size_t i) { return std::isfinite(readings[i]) && readings[i] >= 0; };
  double prev = std::nan("");
  for (std::size_t i = 0; i < n; ++i) {
    if (!usable(i)) {
      ++out.skipped;
      continue;
    }
    const double v = readings[i];
    if (std::isnan(prev) || v >= prev) {
      if (!std::isnan(prev)) out.growth += v - prev;
      prev = v;
      continue;
    }
    // A fall: look on until the readings say which it was.
    std::size_t k = i + 1;
    bool restart = false;
    for (; k < n; ++k) {
      if (!usable(k)) continue;
      if (readings[k] >= prev) break;  // back where it was: the dip was a bad reading
      if (readings[k] > v) {
        restart = true;  // growing again from below: counting from zero since a restart
        break;
      }
    }
    if (restart) {
      ++out.restarts;
      out.growth += v;
      prev = v;
      continue;
    }
    // A dip (or an undecided fall at the end): its readings are skipped.
    out.skipped += k - i;
    i = k - 1;
  }
  return out;
}

}  // namespace planetserve::prom
