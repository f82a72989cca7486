// SPDX-License-Identifier: MIT
// Compiled body of experiment::memory_estimate.
#pragma once

#include <planetserve/experiment/memory_estimate.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <sys/resource.h>

namespace planetserve::experiment {

std::string format_bytes(std::uint64_t bytes) {
  const char* unit[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
  return buf;
}

std::string memory_estimate::describe() const {
  return format_bytes(total) + " (" + format_bytes(per_request) + " per request, " + format_bytes(per_node) +
         " per node)";
}

memory_estimate estimate_virtual_memory(std::size_t requests, double mean_output_tokens, std::size_t nodes,
                                        std::size_t blocks_per_node, std::size_t records_kept,
                                        bool router_models_blocks) {
  // Measured constants, rounded up (1,024 A100 nodes, a million 2,000-token requests: lb
  // peaked at 6.9 GiB, estimated 8.0 GiB; rr at 6.3 GiB, estimated 6.5 GiB):
  // - per request, for the whole run: the prompt (block ids), its schedule entry and state
  //   (~0.4 KB), and its record (~0.5 KB) with one chunk time per output token (8 B), plus
  //   the summary's inter-token gaps at the end (8 B per token);
  // - per KV block of a node: the engine's block and its hash entry (~60 B), and with a
  //   prefix-modelling router its holding in the HR-tree (~50 B).
  constexpr double request_fixed = 1280.0;
  constexpr double chunk_time = 8.0 + 8.0 + 2.0;
  constexpr double engine_block = 64.0;
  constexpr double router_block = 56.0;
  memory_estimate e;
  const double out = std::isfinite(mean_output_tokens) && mean_output_tokens > 0 ? mean_output_tokens : 0.0;
  e.per_request = static_cast<std::uint64_t>(request_fixed + chunk_time * out);
  e.per_node = static_cast<std::uint64_t>(static_cast<double>(blocks_per_node) *
                                          (engine_block + (router_models_blocks ? router_block : 0.0)));
  e.fixed = std::uint64_t{256} << 20;
  const std::uint64_t kept = std::max<std::size_t>(records_kept, 1);
  e.total = e.fixed + e.per_request * requests * kept + e.per_node * nodes;
  return e;
}

std::optional<std::uint64_t> available_memory() {
  std::optional<std::uint64_t> avail;
  {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb) {
      std::getline(in, unit);
      if (key == "MemAvailable:") {
        avail = kb * 1024;
        break;
      }
    }
  }
  // A cgroup v2 limit (a container): what is left under it.
  std::ifstream max_in("/sys/fs/cgroup/memory.max"), cur_in("/sys/fs/cgroup/memory.current");
  std::string max_text;
  std::uint64_t current = 0;
  if (max_in >> max_text && max_text != "max" && cur_in >> current) {
    std::uint64_t limit = 0;
    std::istringstream(max_text) >> limit;
    if (limit > 0) {
      const std::uint64_t left = limit > current ? limit - current : 0;
      avail = avail ? std::min(*avail, left) : left;
    }
  }
  // An address-space limit (`ulimit -v`): what is left of it.
  rlimit rl{};
  if (::getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    std::uint64_t vm_kb = 0;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmSize:", 0) == 0) {
        std::istringstream(line.substr(7)) >> vm_kb;
        break;
      }
    const std::uint64_t limit = rl.rlim_cur, used = vm_kb * 1024;
    const std::uint64_t left = limit > used ? limit - used : 0;
    avail = avail ? std::min(*avail, left) : left;
  }
  return avail;
}

}  // namespace planetserve::experiment
