// SPDX-License-Identifier: MIT
// request_record: everything measured about one request, client-side, plus the routing decision.
#pragma once

#include <planetserve/dispatch/decision.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace planetserve::experiment {

inline constexpr double missing = std::numeric_limits<double>::quiet_NaN();

/// One request of a run. Times are seconds since the run's start on the steady clock;
/// a time that never happened (no first token, say) is NaN.
struct request_record {
  std::size_t query_id = 0;       ///< position of the prompt in the dataset (0-based)
  std::size_t epoch = 0;          ///< which epoch of the run (0-based)
  std::size_t dataset_line = 0;   ///< the prompt's 1-based line in the dataset file (0: given in memory)
  std::uint32_t max_tokens = 0;   ///< output tokens asked for (a trace's output_length, else the run's max_tokens)
  std::uint32_t trace_input_length = 0;  ///< from a trace: the input_length it asked for (0: not from a trace)
  std::uint32_t trace_hash_ids = 0;      ///< from a trace: how many hash ids (shared blocks) it named
  std::string session_id;                ///< a conversation's id ("" when the request is not part of one)
  std::uint32_t turn = 0;                ///< its turn in the conversation, from 1 (0: not part of one)
  dispatch::node_index node = dispatch::no_node;  ///< chosen node, no_node if none was available
  double scheduled_s = missing;   ///< when the arrival process said to send
  double sent_s = missing;        ///< when the request was handed to the socket (NaN: never sent)
  double first_token_s = missing; ///< when the first content token arrived
  double finished_s = missing;    ///< when the last byte arrived (or the failure happened)
  double absolute_start = missing;  ///< wall clock at send, Unix seconds (the seed's field)
  std::vector<double> chunk_s;    ///< arrival time of every streamed chunk with content
  std::uint32_t prompt_tokens = 0;      ///< from the server's usage (else our approximate count)
  std::uint32_t completion_tokens = 0;  ///< from the server's usage (else chunks with content)
  /// usage.prompt_tokens_details.cached_tokens; nothing when the server did not send it
  /// (vLLM sends it only with --enable-prompt-tokens-details, and then only for a hit).
  std::optional<std::uint32_t> cached_tokens;
  /// What the policy's prefix model expected the chosen node to hold of this prompt, in
  /// tokens (dispatch::policy::predicted_cached_tokens); nothing for a policy without one.
  std::optional<std::uint32_t> predicted_cached_tokens;
  bool usage_reported = false;          ///< whether the server sent a usage block
  std::string finish_reason;            ///< "length", "stop", ... as the server said
  std::string response_id;              ///< the server's response id ("chatcmpl-..."), "" if none came
  bool ok = false;                      ///< the stream completed without error
  int http_status = 0;                  ///< HTTP status, 0 when no response
  std::string error;                    ///< what went wrong, empty when ok
  std::string error_kind;               ///< short failure class for counting ("timeout", "http_500", ...)
  std::uint32_t retries = 0;            ///< sent again this many times after a connection failure before any response byte; times are the last attempt's
  std::string node_out_reason;          ///< why nodes were out: this request's failure took its node out, or no node was available
  // The routing decision, copied out of the policy's buffers.
  std::string rule;                     ///< the rule that fired
  std::uint32_t prompt_blocks = 0;      ///< full blocks in the prompt
  std::vector<std::uint32_t> match_blocks;  ///< per node: leading prompt blocks it held
  std::vector<double> load_scores;          ///< per node: the policy's load measure

  /// Time to first token: send to first content, seconds.
  double ttft_s() const noexcept { return first_token_s - sent_s; }
  /// End to end: send to last byte, seconds.
  double e2e_s() const noexcept { return finished_s - sent_s; }
  /// How late the send was against the schedule, seconds.
  double send_lag_s() const noexcept { return sent_s - scheduled_s; }
  /// (e2e - ttft) / (completion tokens - 1); NaN with fewer than two tokens.
  double tpot_s() const noexcept {
    return completion_tokens > 1 ? (e2e_s() - ttft_s()) / (completion_tokens - 1) : missing;
  }
  /// Gaps between consecutive streamed chunks.
  std::vector<double> itl_s() const {
    std::vector<double> gaps;
    for (std::size_t i = 1; i < chunk_s.size(); ++i) gaps.push_back(chunk_s[i] - chunk_s[i - 1]);
    return gaps;
  }
};

}  // namespace planetserve::experiment
