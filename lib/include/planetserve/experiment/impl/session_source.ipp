// SPDX-License-Identifier: MIT
// Compiled body of experiment::session_source.
#pragma once

#include <planetserve/experiment/session_source.hpp>
#include <planetserve/sim/random.hpp>

#include <charconv>
#include <cmath>
#include <sstream>

namespace planetserve::experiment {

namespace {

bool read_seconds(std::string_view s, double& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size() && std::isfinite(out) && out >= 0 && out <= 1e6;
}

}  // namespace

result<think_time_spec> parse_think_time(std::string_view text, diagnostics& diag) {
  static constexpr const char* example = " (e.g. 2, const:2, exp:5 or uniform:1:10, in seconds)";
  std::vector<std::string_view> parts;
  for (std::size_t at = 0;;) {
    const auto colon = text.find(':', at);
    parts.push_back(text.substr(at, colon == std::string_view::npos ? std::string_view::npos : colon - at));
    if (colon == std::string_view::npos) break;
    at = colon + 1;
  }
  think_time_spec t;
  bool ok = false;
  if (parts.size() == 1) {
    ok = read_seconds(parts[0], t.a);
  } else if (parts.size() == 2 && (parts[0] == "const" || parts[0] == "constant")) {
    ok = read_seconds(parts[1], t.a);
  } else if (parts.size() == 2 && (parts[0] == "exp" || parts[0] == "exponential")) {
    t.law = think_time_spec::shape::exponential;
    ok = read_seconds(parts[1], t.a);
  } else if (parts.size() == 3 && parts[0] == "uniform") {
    t.law = think_time_spec::shape::uniform;
    ok = read_seconds(parts[1], t.a) && read_seconds(parts[2], t.b) && t.a <= t.b;
  }
  if (!ok) {
    diag.message = "'" + std::string(text) + "' is not a think time" + example;
    return error::invalid_argument;
  }
  return t;
}

std::string to_string(const think_time_spec& t) {
  std::ostringstream s;
  switch (t.law) {
    case think_time_spec::shape::constant: s << "const:" << t.a; break;
    case think_time_spec::shape::exponential: s << "exp:" << t.a; break;
    case think_time_spec::shape::uniform: s << "uniform:" << t.a << ":" << t.b; break;
  }
  return s.str();
}

session_source::session_source(const std::vector<workload::session>& sessions, std::vector<epoch_time> arrivals,
                               openai::request_options options, bool chat, const tokenize::tokenizer& tokenizer,
                               history_mode history, think_time_spec think, std::uint64_t seed)
    : sessions_(sessions),
      arrivals_(std::move(arrivals)),
      options_(std::move(options)),
      chat_(chat),
      tokenizer_(tokenizer),
      history_(history),
      think_(think),
      seed_(seed) {
  for (std::size_t s = 0; s < sessions_.size(); ++s)
    for (std::size_t k = 0; k < sessions_[s].turns.size(); ++k) {
      session_of_.push_back(s);
      turn_of_.push_back(k);
    }
  reset();
}

void session_source::reset() {
  replies_.assign(sessions_.size(), {});
  tokens_.assign(session_of_.size(), {});
  bodies_.assign(session_of_.size(), {});
  made_.assign(session_of_.size(), false);
}

void session_source::materialize(std::size_t i) {
  if (made_[i]) return;
  made_[i] = true;
  const auto& s = sessions_[session_of_[i]];
  const auto& replies = replies_[session_of_[i]];
  const auto msgs = workload::turn_messages(
      s, turn_of_[i], history_ == history_mode::live ? std::span<const std::string>(replies) : std::span<const std::string>{});
  // What prefix routing sees: the contents joined by "\n", as for a messages prompt.
  std::string text;
  for (const auto& m : msgs) {
    if (!text.empty()) text += '\n';
    text += m.content;
  }
  tokenizer_.encode(text, tokens_[i]);
  if (chat_) {
    std::vector<openai::message_view> view;
    view.reserve(msgs.size());
    for (const auto& m : msgs) view.push_back({m.role, m.content});
    openai::build_chat_body(options_, view, bodies_[i]);
  } else {
    openai::build_completions_body(options_, text, bodies_[i]);
  }
}

dispatch::request_view session_source::view(std::size_t i) {
  materialize(i);
  // The session id keys `session` affinity; 0 means none, so ids are offset by one.
  return {tokens_[i], static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(session_of_[i]) + 1};
}

std::string_view session_source::body(std::size_t i) {
  materialize(i);
  return bodies_[i];
}

void session_source::describe(std::size_t i, request_record& rec) const {
  const auto& s = sessions_[session_of_[i]];
  rec.query_id = i;
  rec.dataset_line = s.line;
  rec.max_tokens = options_.max_tokens.value_or(0);
  rec.session_id = s.id;
  rec.turn = static_cast<std::uint32_t>(turn_of_[i] + 1);
}

std::optional<std::size_t> session_source::follow_up(std::size_t i) const {
  if (i + 1 < session_of_.size() && session_of_[i + 1] == session_of_[i]) return i + 1;
  return std::nullopt;
}

epoch_time session_source::think_time(std::size_t i) const {
  // A function of (seed, request): the same whatever order replies come back in.
  sim::random rng(sim::mix_seed(seed_, static_cast<std::uint64_t>(i) + 0x7417));
  double seconds = think_.a;
  if (think_.law == think_time_spec::shape::exponential) seconds = rng.exponential(think_.a);
  if (think_.law == think_time_spec::shape::uniform) seconds = think_.a + (think_.b - think_.a) * rng.uniform();
  return std::chrono::duration_cast<epoch_time>(std::chrono::duration<double>(seconds));
}

bool session_source::keeps_reply(std::size_t i) const {
  return history_ == history_mode::live && follow_up(i).has_value();
}

void session_source::on_reply(std::size_t i, const attempt_result& result) {
  if (!keeps_reply(i)) return;
  auto& replies = replies_[session_of_[i]];
  const std::size_t k = turn_of_[i];
  if (replies.size() <= k) replies.resize(k + 1);
  // A failed turn has no reply of its own: the dataset's stands in for it in the history.
  replies[k] = result.ok ? result.reply : sessions_[session_of_[i]].turns[k].assistant;
}

}  // namespace planetserve::experiment
