// SPDX-License-Identifier: MIT
// experiment::session_source: multi-turn conversations as an epoch's requests (turn k after turn k-1's reply).
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/experiment/epoch_core.hpp>
#include <planetserve/experiment/session_settings.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/session.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::experiment {

/// Conversations as an epoch's requests: sessions arrive at `arrivals` (one per session,
/// non-decreasing); within a session turn k is due its turn k-1's reply plus a think time.
/// Turn k's prompt is the system message, every earlier turn's user message and reply
/// (live or the dataset's), then turn k's user message. Requests are numbered session by
/// session, turn by turn. Tokens and bodies are made when a turn is released, so live
/// replies are in them; each is kept until the epoch's end.
class session_source final : public request_source {
 public:
  /// `sessions` (kept by reference: must outlive the source), their arrival offsets, the
  /// request template (model, max_tokens...), the routing tokenizer and the settings.
  session_source(const std::vector<workload::session>& sessions, std::vector<epoch_time> arrivals,
                 openai::request_options options, bool chat, const tokenize::tokenizer& tokenizer,
                 history_mode history, think_time_spec think, std::uint64_t seed);

  /// Turns over all sessions.
  std::size_t size() const noexcept override { return session_of_.size(); }
  /// A first turn's session arrival (later turns follow replies instead).
  epoch_time due(std::size_t i) const override { return arrivals_[session_of_[i]]; }
  /// Turn `i`'s prompt tokens (system, history, new message), made when first asked for.
  dispatch::request_view view(std::size_t i) override;
  /// Query id, dataset line, max_tokens, session id and turn (from 1).
  void describe(std::size_t i, request_record& rec) const override;
  /// The session's next turn, if any.
  std::optional<std::size_t> follow_up(std::size_t i) const override;
  /// Whether `i` is a later turn (sent after the previous turn's reply).
  bool is_follow_up(std::size_t i) const override { return turn_of_[i] > 0; }
  /// The seeded think time before turn `i` (a function of the seed and `i` only).
  epoch_time think_time(std::size_t i) const override;
  /// With --history live: whether turn `i` has a next turn that needs its reply.
  bool keeps_reply(std::size_t i) const override;
  /// Keeps turn `i`'s reply for the next turn's history (the dataset's reply if it failed).
  void on_reply(std::size_t i, const attempt_result& result) override;

  /// Request `i`'s body (made with its tokens when first asked for).
  std::string_view body(std::size_t i);
  /// Request `i`'s session and turn (0-based).
  std::size_t session_of(std::size_t i) const noexcept { return session_of_[i]; }
  /// Request `i`'s turn in its session (0-based).
  std::size_t turn_of(std::size_t i) const noexcept { return turn_of_[i]; }
  /// Forgets every reply, token and body (a new epoch).
  void reset();

 private:
  void materialize(std::size_t i);

  const std::vector<workload::session>& sessions_;
  std::vector<epoch_time> arrivals_;
  openai::request_options options_;
  bool chat_;
  const tokenize::tokenizer& tokenizer_;
  history_mode history_;
  think_time_spec think_;
  std::uint64_t seed_;
  std::vector<std::size_t> session_of_, turn_of_;
  std::vector<std::vector<std::string>> replies_;  // per session, live replies so far
  std::vector<std::vector<tokenize::token_id>> tokens_;
  std::vector<std::string> bodies_;
  std::vector<bool> made_;
};

}  // namespace planetserve::experiment
