// SPDX-License-Identifier: MIT
// run_summary: the headline numbers of one policy's run, from the records and the timelines.
#pragma once

#include <planetserve/experiment/cache_prediction.hpp>
#include <planetserve/experiment/goodput.hpp>
#include <planetserve/experiment/node_timeline.hpp>
#include <planetserve/experiment/request_record.hpp>
#include <planetserve/experiment/seed_summary.hpp>

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace planetserve::experiment {

/// Per-node share of the run.
struct node_summary {
  std::string name;                ///< "node_0"
  std::string url;                 ///< base URL
  std::size_t requests = 0;        ///< requests routed to it
  std::size_t failed = 0;          ///< of those, failed
  double share = 0;                ///< fraction of all routed requests
  double prefix_hit_ratio = missing;  ///< server-side Δhits/Δqueries over the run
  double kv_cache_usage_mean = missing;  ///< server-side mean KV usage over the run's scrapes
  std::size_t failed_scrapes = 0;  ///< /metrics scrapes that failed
  /// Counter and gauge readings left out of the server-side figures: NaN, a missing series,
  /// or a dip the counter came back from (prom::growth_of).
  std::size_t skipped_readings = 0;
};

/// One turn of the conversations of a multi-turn run.
struct turn_summary {
  std::uint32_t turn = 0;            ///< from 1
  std::size_t requests = 0;          ///< completed requests of this turn
  double ttft_mean_s = missing;      ///< their mean TTFT
  double cached_ratio = missing;     ///< Σ usage cached tokens / Σ prompt tokens (when reported)
};

/// The summary of one policy's run (all epochs together).
struct run_summary {
  std::string policy;        ///< "lb", "rr", ...
  std::string dataset;       ///< dataset label
  double average_interval_s = 0;  ///< the requested mean inter-arrival time
  std::size_t epochs = 1;    ///< epochs aggregated
  std::size_t requests = 0;  ///< requests attempted
  std::size_t ok = 0;        ///< requests that completed
  std::size_t failed = 0;    ///< requests that failed
  bool interrupted = false;  ///< the run was stopped early (Ctrl-C)
  bool virtual_time = false; ///< the run's clock was virtual: times are simulated seconds of in-process engines
  double duration_s = 0;     ///< first send to last finish (summed over epochs)
  // Client-side, from the streams.
  double request_throughput = missing;  ///< completed requests per second
  double token_throughput = missing;    ///< generated tokens per second
  double total_token_throughput = missing;  ///< prompt + generated tokens per second
  double ttft_mean_s = missing;      ///< time to first token, mean, seconds
  double ttft_p50_s = missing;       ///< time to first token, median, seconds
  double ttft_p99_s = missing;       ///< time to first token, 99th percentile, seconds
  double tpot_mean_s = missing;      ///< time per output token after the first, mean, seconds
  double tpot_p99_s = missing;       ///< time per output token, 99th percentile, seconds
  double itl_mean_s = missing;       ///< inter-token latency (gaps between chunks), mean, seconds
  double itl_p99_s = missing;        ///< inter-token latency, 99th percentile, seconds
  double e2e_mean_s = missing;       ///< send to last byte, mean, seconds
  double e2e_p50_s = missing;        ///< send to last byte, median, seconds
  double e2e_p99_s = missing;        ///< send to last byte, 99th percentile, seconds
  double send_lag_mean_s = missing;  ///< send time minus scheduled time, mean, seconds
  double send_lag_p99_s = missing;   ///< send lag, 99th percentile, seconds
  double send_lag_max_s = missing;   ///< send lag, largest, seconds
  double inter_arrival_mean_s = missing;  ///< measured mean gap between sends
  double prompt_tokens_mean = missing;    ///< per request
  double completion_tokens_mean = missing;  ///< per request
  double max_tokens_mean = missing;       ///< output tokens asked for, per completed request (a trace's output_length)
  std::size_t short_outputs = 0;          ///< completed requests that produced fewer tokens than they asked for
  double client_cached_ratio = missing;   ///< Σ usage cached tokens / Σ prompt tokens, when reported
  cache_prediction prediction;            ///< the policy's predicted cached tokens against the servers' (measure_cache_prediction)
  // Server-side, from /metrics.
  double prefix_hit_ratio = missing;      ///< Δhits/Δqueries over the run, all nodes
  double kv_cache_usage_mean = missing;   ///< mean over scrapes and nodes
  double server_ttft_mean_s = missing;    ///< Δttft_sum/Δttft_count over the run, all nodes
  double server_tpot_mean_s = missing;    ///< Δ per-token latency sum / Δcount, all nodes
  // Goodput: set only when the run was given bounds (absent, not zero, otherwise).
  std::optional<goodput_spec> goodput_bounds;  ///< the bounds each good request met
  std::optional<std::size_t> good_requests;    ///< completed requests that met every bound
  std::optional<double> goodput;               ///< good_requests per second of duration_s (NaN for a zero duration)
  seed_summary seed;                      ///< the seed's summarize_results numbers, from the written files (write_run_outputs fills it)
  std::map<std::string, std::size_t> failures;  ///< failure kind -> count
  std::size_t retries = 0;           ///< sends repeated after connection failures, all requests
  std::size_t retried_requests = 0;  ///< requests sent more than once
  std::size_t not_sent = 0;          ///< requests never sent (no node available, or stopped first)
  std::vector<node_summary> nodes;        ///< per node
  std::vector<turn_summary> turns;        ///< multi-turn runs: per turn (summarize_turns); empty otherwise
};

/// Per turn (1, 2, ...): TTFT and the usage-based hit ratio; empty when no record has a turn.
std::vector<turn_summary> summarize_turns(std::span<const request_record> records);

/// Computes the summary. `timelines[k]` belongs to node k; records may come from several
/// epochs (each epoch's timelines are appended with times offset so they do not overlap).
/// With `goodput` bounds, also counts the requests meeting them and their rate.
run_summary summarize(std::span<const request_record> records,
                      std::span<const node_timeline> timelines,
                      const std::optional<goodput_spec>& goodput = std::nullopt);

}  // namespace planetserve::experiment
