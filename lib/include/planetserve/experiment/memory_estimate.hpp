// SPDX-License-Identifier: MIT
// experiment::memory_estimate: what a virtual-time run will hold at its peak, known before it starts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace planetserve::experiment {

/// A virtual-time run's peak memory, estimated from its size before it starts: a run that
/// cannot fit is refused with this estimate instead of being ended by the kernel's OOM killer.
/// The constants are measured (a million requests on 1,024 emulated A100 nodes; see the
/// README's virtual-time section), not derived; the estimate errs high.
struct memory_estimate {
  std::uint64_t per_request = 0;  ///< bytes each request holds to the end: prompt, schedule, record with its chunk times
  std::uint64_t per_node = 0;     ///< bytes each node holds once its KV cache is full: the engine's blocks and the router's model of them
  std::uint64_t fixed = 0;        ///< the process, the fleet's setup, the outputs' transients
  std::uint64_t total = 0;        ///< the estimate

  /// "9.1 GB (2.1 KB per request, 2.9 MB per node)".
  std::string describe() const;
};

/// The estimate for `requests` requests of `mean_output_tokens` output tokens each on `nodes`
/// nodes of `blocks_per_node` KV blocks, with `records_kept` policies' records in memory at
/// once (run_config::keep_records keeps every policy's) and the router modelling each node's
/// blocks (`router_models_blocks`: lb, hrt, cache-aware, precise).
memory_estimate estimate_virtual_memory(std::size_t requests, double mean_output_tokens, std::size_t nodes,
                                        std::size_t blocks_per_node, std::size_t records_kept,
                                        bool router_models_blocks);

/// Bytes this process may still allocate: the kernel's MemAvailable, or less when a cgroup
/// (v2 memory.max) or an address-space limit (`ulimit -v`) bounds the process; nothing when
/// none can be read.
std::optional<std::uint64_t> available_memory();

/// "1.5 GB", "640 MB", "12 KB".
std::string format_bytes(std::uint64_t bytes);

}  // namespace planetserve::experiment
