// SPDX-License-Identifier: MIT
// workload_stats: what pswm gen --stats reports for sessions, prompts or traces: lengths, rate, reuse.
#pragma once

#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/dataset.hpp>
#include <planetserve/workload/reuse_ceiling.hpp>
#include <planetserve/workload/session.hpp>

#include <cstddef>
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

/// Every turn of every session, in file order (a session's turns together), tokenized with
/// `tok` as its full prompt (turn_messages with the dataset's replies, joined by
/// message_text) and cut into config.block_tokens-token blocks with chained hashes; the
/// affinity key is the session. Per-node figures are therefore an upper bound for a run in
/// which sessions interleave.
workload_stats session_workload_stats(const session_dataset& d, const tokenize::tokenizer& tok,
                                      const reuse_config& config);

/// Every prompt in file order, blocks as for sessions; the affinity key is the first block.
workload_stats prompt_workload_stats(const dataset& d, const tokenize::tokenizer& tok, const reuse_config& config);

}  // namespace planetserve::workload
