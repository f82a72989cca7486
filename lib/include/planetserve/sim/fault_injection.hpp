// SPDX-License-Identifier: MIT
// sim::fault_injector: seeded per-request decisions on the faults the HTTP front injects.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace planetserve::sim {

/// Faults a node injects, for tests and demos. All off by default.
struct fault_config {
  double error_rate = 0;                          ///< fraction of generation requests answered with an error
  std::vector<unsigned> error_statuses{500};      ///< the error's HTTP status, picked uniformly from these
  double close_rate = 0;                          ///< fraction of streamed responses cut short
  std::size_t close_after_chunks = 0;             ///< those close the connection after this many chunks
  double reset_rate = 0;                          ///< fraction of generation requests whose connection is dropped before any response byte
  std::chrono::milliseconds unhealthy_for{0};     ///< /health answers 503 (and requests 503) for this long after start
  std::chrono::milliseconds added_delay{0};       ///< network delay added before every response
  std::chrono::milliseconds delay_jitter{0};      ///< plus a uniform extra in [0, jitter]
  std::uint64_t seed = 0;                         ///< decisions depend only on (seed, request number)
};

/// What to do to one request.
struct fault_decision {
  std::optional<unsigned> error_status;        ///< answer with this status instead of serving
  std::optional<std::size_t> close_after_chunks;  ///< close the stream after this many chunks
  bool reset = false;                          ///< drop the connection without answering
  std::chrono::nanoseconds delay{0};           ///< wait this long before answering
};

/// Decides faults from the config. Decisions are a pure function of the request number
/// (count requests as they arrive, from 0), so a run repeats exactly for a seed.
class fault_injector {
 public:
  /// An injector for `config` (all faults off by default). Throws std::invalid_argument for a
  /// rate outside [0, 1], or an error rate without a status to answer with.
  explicit fault_injector(fault_config config = {});

  /// Faults for request number `index`.
  fault_decision decide(std::uint64_t index) const;

  /// Whether the node is healthy `since_start` after it started.
  bool healthy(std::chrono::nanoseconds since_start) const noexcept;

  /// Whether any fault is configured.
  bool enabled() const noexcept;

  /// The settings it was made with.
  const fault_config& config() const noexcept { return config_; }

 private:
  fault_config config_;
};

}  // namespace planetserve::sim
