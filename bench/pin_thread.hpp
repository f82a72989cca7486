// SPDX-License-Identifier: MIT
// The benchmarks' thread pinning: a thread on one CPU, so runs compare like with like.
#pragma once

#include <cstdio>

#include <pthread.h>
#include <sched.h>

namespace bench {

/// Pins the calling thread to `cpu`; -1 leaves it free. Says so on stderr when it cannot.
inline void pin_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) std::fprintf(stderr, "cannot pin a thread to CPU %d\n", cpu);
}

}  // namespace bench
