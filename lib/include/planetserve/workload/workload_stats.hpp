// SPDX-License-Identifier: MIT
// workload_stats: what pswm gen --stats reports for sessions, prompts or traces: lengths, rate, reuse.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/dataset.hpp>
#include <planetserve/workload/reuse_ceiling.hpp>
#include <planetserve/workload/session.hpp>
#include <planetserve/workload/trace.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace planetserve::workload {

/// Mean and nearest-rank percentiles of a list of lengths.
struct length_stats {
  std::size_t count = 0;  ///< values
  std::size_t total = 0;  ///< their sum
  double mean = 0;        ///< total / count (0 when empty)
  std::size_t p50 = 0;    ///< median (nearest rank)
  std::size_t p90 = 0;    ///< 90th percentile (nearest rank)
  std::size_t max = 0;    ///< largest
};

/// The summary of `values` (any order).
length_stats summarize_lengths(std::vector<std::size_t> values);

/// A workload as requests.
struct workload_stats {
  std::size_t requests = 0;  ///< requests a replay sends (prompts, turns or trace lines)
  std::size_t sessions = 0;  ///< conversations (0 for prompts and traces)
  length_stats input;        ///< input tokens per request (a turn: its whole prompt, history included)
  length_stats output;       ///< output tokens per request (a turn: the dataset's reply; prompts: none)
  double span_s = 0;         ///< first to last arrival in seconds (traces; 0 without timestamps)
  double offered_rate = 0;   ///< requests / span_s (0 without a span)
  reuse_result reuse;        ///< the prefix-reuse ceilings
};

/// Collects requests one at a time, in arrival order, into a workload_stats.
class workload_stats_builder {
 public:
  /// `config` as for reuse_ceiling.
  explicit workload_stats_builder(const reuse_config& config);

  /// One request: its blocks' keys (each standing for the prefix up to it), input and output
  /// lengths in tokens, the key perfect affinity keeps on one node, and its arrival in
  /// seconds if the workload has timestamps (give all or none).
  void add(std::span<const std::uint64_t> blocks, std::size_t input_tokens, std::size_t output_tokens,
           std::uint64_t affinity, std::optional<double> arrival_s = std::nullopt);
  /// Counts one more session.
  void add_session() noexcept { ++sessions_; }

  /// The summary; span_s is last minus first arrival and offered_rate requests / span_s.
  workload_stats finish() const;

 private:
  reuse_ceiling ceiling_;
  std::vector<std::size_t> in_, out_;
  std::size_t sessions_ = 0;
  std::optional<double> first_, last_;
};

/// Every turn of every session, in file order (a session's turns together), tokenized with
/// `tok` as its full prompt (turn_messages with the dataset's replies, joined by
/// message_text) and cut into config.block_tokens-token blocks with chained hashes; the
/// affinity key is the session. Per-node figures are therefore an upper bound for a run in
/// which sessions interleave.
workload_stats session_workload_stats(const session_dataset& d, const tokenize::tokenizer& tok,
                                      const reuse_config& config);

/// Every request of a trace in file order: its hash ids are the blocks (config.block_tokens
/// should be the trace's block size), input_length and output_length the lengths, timestamps
/// the arrivals; the affinity key is the first hash id.
workload_stats trace_workload_stats(const trace& t, const reuse_config& config);

/// Every prompt in file order, blocks as for sessions; the affinity key is the first block.
workload_stats prompt_workload_stats(const dataset& d, const tokenize::tokenizer& tok, const reuse_config& config);

}  // namespace planetserve::workload
