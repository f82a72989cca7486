// SPDX-License-Identifier: MIT
// Compiled body of experiment::epoch_core.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/detail/sanitize.hpp>
#include <planetserve/experiment/epoch_core.hpp>
#include <planetserve/http/failure.hpp>

#include <algorithm>
#include <cmath>

namespace planetserve::experiment {

namespace {
// While every node is out, a waiting request asks the policy again this often (a policy of
// one's own may refuse for reasons of its own), besides whenever a node comes back.
constexpr epoch_time no_node_look = std::chrono::milliseconds(200);
}  // namespace

void record_from(const attempt_result& a, request_record& rec) {
  rec.sent_s = a.sent_s;
  rec.absolute_start = a.absolute_start;
  rec.retries += a.resent;
  rec.first_token_s = a.first_token_s;
  rec.finished_s = a.finished_s;
  rec.chunk_s = a.chunk_s;
  rec.http_status = a.http_status;
  rec.finish_reason = a.finish_reason;
  rec.response_id = a.response_id;
  rec.served_by = a.served_by;
  if (a.usage_reported) rec.usage_reported = true;
  rec.prompt_tokens = a.prompt_tokens;
  rec.completion_tokens = a.completion_tokens;
  rec.cached_tokens = a.cached_tokens;
  rec.ok = a.ok;
  rec.error = a.ok ? std::string{} : a.error;
  rec.error_kind = a.ok ? std::string{} : a.error_kind;
}

void record_from(attempt_result&& a, request_record& rec) {
  // The chunk times move (a run's largest data); the rest as from a copy.
  std::vector<double> chunks = std::move(a.chunk_s);
  a.chunk_s.clear();
  record_from(static_cast<const attempt_result&>(a), rec);
  // A stream that stopped early leaves room reserved for max_tokens: not kept for the run.
  if (chunks.capacity() > chunks.size() + chunks.size() / 4 + 16) chunks.shrink_to_fit();
  rec.chunk_s = std::move(chunks);
}

epoch_core::epoch_core(const epoch_settings& settings, dispatch::policy& policy, request_source& source,
                       std::vector<std::string> labels, std::size_t epoch)
    : cfg_(settings),
      labels_(std::move(labels)),
      policy_(policy),
      source_(source),
      epoch_(epoch),
      records_(source.size()),
      req_(source.size()),
      nodes_(labels_.size()) {
  skip_follow_ups();
}

void epoch_core::skip_follow_ups() {
  while (cursor_ < req_.size() && source_.is_follow_up(cursor_)) ++cursor_;
}

std::optional<std::pair<epoch_time, std::size_t>> epoch_core::next_due() const {
  std::optional<std::pair<epoch_time, std::size_t>> best;
  if (cursor_ < req_.size()) best = std::pair{source_.due(cursor_), cursor_};
  if (!released_.empty() && (!best || released_.top() < *best)) best = released_.top();
  return best;
}

void epoch_core::emit(epoch_action::kind k, std::size_t request, dispatch::node_index node, std::string text) {
  actions_.push_back(epoch_action{k, request, node, std::move(text)});
}

void epoch_core::say(std::string text) { emit(epoch_action::kind::message, 0, dispatch::no_node, std::move(text)); }

std::optional<epoch_action> epoch_core::pop_action() {
  if (actions_.empty()) return std::nullopt;
  epoch_action a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

void epoch_core::set_available(dispatch::node_index node, bool available) { policy_.set_available(node, available); }

void epoch_core::start(epoch_time now, double unix_origin_s) {
  unix_origin_s_ = unix_origin_s;
  started_ = true;
  // A node still down from the last epoch gets another chance; a failure marks it again.
  for (std::size_t k = 0; k < nodes_.size(); ++k) set_available(static_cast<dispatch::node_index>(k), true);
  run_schedule(now);
  check_over(now);
}

dispatch::decision epoch_core::choose(std::size_t i, epoch_time now) {
  view_ = source_.view(i);
  return policy_.choose(view_, dispatch::fleet_view{now});
}

void epoch_core::note_decision(std::size_t i, const dispatch::decision& d, std::size_t prompt_tokens) {
  auto& rec = records_[i];
  rec.node = d.node;
  rec.predicted_cached_tokens = policy_.predicted_cached_tokens(d, prompt_tokens);
  rec.rule = std::string(dispatch::rule_name(d));
  rec.prompt_blocks = d.prompt_blocks;
  if (nodes_.size() <= cfg_.per_node_detail_max) {
    rec.match_blocks.assign(d.match_blocks.begin(), d.match_blocks.end());
    rec.load_scores.assign(d.load_score.begin(), d.load_score.end());
  }
  req_[i].routed_tokens = planetserve::detail::saturate_cast<std::uint32_t>(view_.tokens.size());
  req_[i].view_id = view_.id;
}

void epoch_core::run_schedule(epoch_time now) {
  while (!stop_) {
    if (!head_waiting_) {
      const auto next = next_due();
      if (!next || next->first > now) return;
      // --max-concurrency (vLLM bench's): a due request waits, before routing, until fewer
      // than the cap are in flight; later requests queue behind it (their send lag shows it).
      if (cfg_.max_concurrency > 0 && in_flight_ >= cfg_.max_concurrency) return;
      const auto [due, i] = *next;
      if (!released_.empty() && released_.top().second == i) {
        released_.pop();
      } else {
        ++cursor_;
        skip_follow_ups();
      }
      head_ = i;
      auto& rec = records_[i];
      source_.describe(i, rec);
      rec.epoch = epoch_;
      rec.scheduled_s = seconds(due);
      head_deadline_ = due + cfg_.no_node_wait;
    }
    const std::size_t i = head_;
    const auto d = choose(i, now);
    if (!d.has_node() && now < head_deadline_) {
      // Every node is out: the schedule waits (later requests behind it too) up to
      // --no-node-wait after this request's time.
      head_waiting_ = true;
      head_next_look_ = std::min(head_deadline_, now + no_node_look);
      return;
    }
    head_waiting_ = false;
    note_decision(i, d, view_.tokens.size());
    ++sent_;
    req_[i].routed = true;
    if (!d.has_node()) {
      auto& rec = records_[i];
      not_sent(i, now, "no node available: every node failed and none answered /health within --no-node-wait",
               "no_node_available");
      rec.node_out_reason = nodes_out_text();
      finish(i, now);
      continue;
    }
    policy_.on_dispatched(d.node, view_);
    req_[i].counted = true;
    ++in_flight_;
    dispatch_or_queue(i, d.node, now);
  }
}

void epoch_core::not_sent(std::size_t i, epoch_time now, std::string error, std::string kind) {
  auto& rec = records_[i];
  rec.sent_s = missing;
  rec.finished_s = seconds(now);
  rec.absolute_start = unix_origin_s_ + seconds(now);
  rec.error = std::move(error);
  rec.error_kind = std::move(kind);
}

void epoch_core::dispatch_or_queue(std::size_t i, dispatch::node_index node, epoch_time now) {
  req_[i].at = phase::queued;
  nodes_[node].backlog.push_back(i);
  start_next(node, now);
}

void epoch_core::start_next(dispatch::node_index node, epoch_time now) {
  auto& nd = nodes_[node];
  if (stop_) {
    // Queued requests never got a connection: recorded as not sent.
    while (!nd.backlog.empty()) {
      const std::size_t i = nd.backlog.front();
      nd.backlog.pop_front();
      not_sent(i, now, "stopped before a connection to " + labels_[node] + " was free: not sent", "interrupted");
      finish(i, now);
    }
    return;
  }
  if (nd.backlog.empty() || nd.active >= cfg_.max_connections_per_node) return;
  const std::size_t i = nd.backlog.front();
  nd.backlog.pop_front();
  ++nd.active;
  req_[i].at = phase::active;
  emit(epoch_action::kind::send, i, node);
}

void epoch_core::on_attempt_end(std::size_t i, attempt_result result, epoch_time now) {
  if (i >= req_.size() || req_[i].at != phase::active) return;  // not an attempt in flight
  auto& rec = records_[i];
  const dispatch::node_index k = rec.node;
  auto& nd = nodes_[k];
  const bool unreachable = !result.ok && result.node_unreachable;
  const bool had_status = result.http_status != 0;
  req_[i].retryable = !result.ok && result.retryable;
  source_.on_reply(i, result);
  record_from(std::move(result), rec);
  --nd.active;
  dispatch::outcome fb;
  fb.request_id = req_[i].view_id;
  fb.routed_tokens = req_[i].routed_tokens;
  fb.e2e = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(std::isfinite(rec.e2e_s()) ? rec.e2e_s() : 0.0));
  fb.prompt_tokens = rec.prompt_tokens;
  fb.completion_tokens = rec.completion_tokens;
  fb.ok = rec.ok;
  policy_.on_finished(k, fb);
  if (unreachable) {
    // The breaker counts it; below its threshold the node is kept out of choices only while
    // one /health check runs (a node that resets one connection in twenty but answers
    // /health stays in).
    ++nd.consecutive_failures;
    if (!nd.probing && !nd.suspect && !stop_) {
      const std::string what = rec.error_kind + ": " + rec.error;
      if (cfg_.breaker_failures > 0 && nd.consecutive_failures >= cfg_.breaker_failures) {
        const std::string why =
            std::to_string(nd.consecutive_failures) + " consecutive connection failures (last: " + what + ")";
        take_out(k, why, now);
        rec.node_out_reason = why;
      } else {
        nd.suspect = true;
        set_available(k, false);
        nd.checking = true;
        emit(epoch_action::kind::check_health, 0, k);
        req_[i].at = phase::held;
        req_[i].failure = what;
        nd.held.push_back(i);
        start_next(k, now);
        return;
      }
    }
  } else if (had_status) {
    nd.consecutive_failures = 0;
  }
  start_next(k, now);
  after_failure(i, now);
  run_schedule(now);
  check_over(now);
}

void epoch_core::after_failure(std::size_t i, epoch_time now) {
  auto& rec = records_[i];
  if (!rec.ok && req_[i].retryable && rec.retries < cfg_.max_retries && !stop_) {
    ++rec.retries;
    req_[i].at = phase::backoff;
    req_[i].wake = now + std::chrono::duration_cast<epoch_time>(
                             http::retry_delay(std::chrono::duration<double>(cfg_.retry_backoff), rec.retries));
    waiting_.push_back(i);
    return;
  }
  finish(i, now);
}

void epoch_core::route_retry(std::size_t i, epoch_time now) {
  auto& st = req_[i];
  auto& rec = records_[i];
  const auto leave = [&] { std::erase(waiting_, i); };
  if (stop_) {
    // Nowhere to send it again: the record keeps the last attempt's failure.
    leave();
    if (st.at == phase::waiting && rec.node_out_reason.empty()) rec.node_out_reason = nodes_out_text();
    finish(i, now);
    return;
  }
  if (st.at == phase::backoff) {
    st.at = phase::waiting;
    st.deadline = now + cfg_.no_node_wait;
  }
  const auto d = choose(i, now);
  if (d.has_node()) {
    leave();
    note_decision(i, d, view_.tokens.size());
    policy_.on_dispatched(d.node, view_);
    dispatch_or_queue(i, d.node, now);
    return;
  }
  if (now >= st.deadline) {
    leave();
    if (rec.node_out_reason.empty()) rec.node_out_reason = nodes_out_text();
    finish(i, now);
    return;
  }
  st.wake = std::min(st.deadline, now + no_node_look);
}

void epoch_core::finish(std::size_t i, epoch_time now) {
  auto& st = req_[i];
  auto& rec = records_[i];
  if (st.counted) {
    st.counted = false;
    --in_flight_;
  }
  st.at = phase::done;
  if (rec.ok) {
    ++completed_;
    if (std::isfinite(rec.ttft_s())) ttfts_.push_back(rec.ttft_s());
  } else {
    ++failed_;
  }
  // Server text reaches the record only made safe and short, whichever path set it.
  if (!rec.error.empty()) rec.error = planetserve::detail::sanitized(rec.error);
  if (!rec.finish_reason.empty()) rec.finish_reason = planetserve::detail::sanitized(rec.finish_reason, 64);
  if (!rec.node_out_reason.empty()) rec.node_out_reason = planetserve::detail::sanitized(rec.node_out_reason, 600);
  emit(epoch_action::kind::record, i);
  // A conversation's next turn: due this reply plus the user's think time.
  if (auto next = source_.follow_up(i); next && !stop_) released_.push({now + source_.think_time(*next), *next});
}

void epoch_core::take_out(dispatch::node_index node, const std::string& why, epoch_time now) {
  auto& nd = nodes_[node];
  if (nd.probing || over_) return;
  nd.probing = true;
  ++probing_;
  nd.out_reason = planetserve::detail::sanitized(why, 600);  // may quote a server's text
  set_available(node, false);
  nd.next_check = now + cfg_.health_interval;
  say(labels_[node] + " is out: " + nd.out_reason + "; not routing to it until /health answers");
}

void epoch_core::retry_waiters(epoch_time now) {
  const auto waiting = waiting_;
  for (std::size_t i : waiting)
    if (req_[i].at == phase::waiting) route_retry(i, now);
  if (head_waiting_) head_next_look_ = now;
}

void epoch_core::on_health(dispatch::node_index node, bool ok, const std::string& why, epoch_time now) {
  if (over_ || node >= nodes_.size()) return;
  auto& nd = nodes_[node];
  nd.checking = false;
  if (nd.suspect) {
    nd.suspect = false;
    auto held = std::move(nd.held);
    nd.held.clear();
    if (ok || stop_) {
      if (!nd.probing) set_available(node, true);
    } else {
      const std::string reason =
          "/health " + why + " after a connection failure (" + (held.empty() ? std::string{} : req_[held.front()].failure) + ")";
      take_out(node, reason, now);
      for (std::size_t i : held) records_[i].node_out_reason = reason;
    }
    for (std::size_t i : held) after_failure(i, now);
    if (ok) retry_waiters(now);
  } else if (nd.probing) {
    if (ok) {
      // Half-open: routed to again, but the next connection failure takes it out at once.
      nd.consecutive_failures = cfg_.breaker_failures > 0 ? cfg_.breaker_failures - 1 : 0;
      nd.probing = false;
      --probing_;
      nd.next_check.reset();
      set_available(node, true);
      say(labels_[node] + " answers /health again: routing to it");
      retry_waiters(now);
    } else {
      nd.next_check = now + cfg_.health_interval;
    }
  }
  run_schedule(now);
  check_over(now);
}

void epoch_core::advance(epoch_time now) {
  if (!started_ || over_) return;
  if (!waiting_.empty()) {
    const auto waiting = waiting_;
    for (std::size_t i : waiting) {
      const auto& st = req_[i];
      if ((st.at == phase::backoff || st.at == phase::waiting) && st.wake <= now) route_retry(i, now);
    }
  }
  if (probing_ > 0 && !stop_) {
    for (std::size_t k = 0; k < nodes_.size(); ++k) {
      auto& nd = nodes_[k];
      if (nd.probing && !nd.checking && nd.next_check && *nd.next_check <= now) {
        nd.checking = true;
        nd.next_check.reset();
        emit(epoch_action::kind::check_health, 0, static_cast<dispatch::node_index>(k));
      }
    }
  }
  if (drain_deadline_ && !abandoned_ && in_flight_ > 0 && now >= *drain_deadline_) {
    abandoned_ = true;
    say("drain timeout: abandoning " + std::to_string(in_flight_) + " request(s)");
    emit(epoch_action::kind::abandon);
  }
  run_schedule(now);
  check_over(now);
}

void epoch_core::request_stop(epoch_time now) {
  if (stop_ || over_) {
    stop_ = true;
    return;
  }
  stop_ = true;
  // The schedule's next request, if it waited for a node, was never sent: left out like the rest.
  head_waiting_ = false;
  for (std::size_t k = 0; k < nodes_.size(); ++k) start_next(static_cast<dispatch::node_index>(k), now);
  const auto waiting = waiting_;
  for (std::size_t i : waiting) route_retry(i, now);
  std::ostringstream drain;
  drain << "stopping: no more requests sent; waiting up to " << seconds(cfg_.drain_timeout) << " s for "
        << in_flight_ << " in flight (Ctrl-C again to quit at once)";
  say(drain.str());
  drain_deadline_ = now + cfg_.drain_timeout;
  check_over(now);
}

void epoch_core::check_over(epoch_time) {
  if (over_ || !started_ || in_flight_ > 0 || head_waiting_) return;
  if (!stop_ && (cursor_ < source_.size() || !released_.empty())) return;
  over_ = true;
  emit(epoch_action::kind::over);
}

std::optional<epoch_time> epoch_core::next_wake() const {
  if (over_ || !started_) return std::nullopt;
  std::optional<epoch_time> wake;
  const auto consider = [&](epoch_time t) {
    if (!wake || t < *wake) wake = t;
  };
  if (!stop_) {
    if (head_waiting_)
      consider(head_next_look_);
    else if (cfg_.max_concurrency == 0 || in_flight_ < cfg_.max_concurrency)
      if (auto next = next_due()) consider(next->first);
  }
  for (std::size_t i : waiting_) consider(req_[i].wake);
  if (probing_ > 0 && !stop_)
    for (const auto& nd : nodes_)
      if (nd.probing && !nd.checking && nd.next_check) consider(*nd.next_check);
  if (drain_deadline_ && !abandoned_ && in_flight_ > 0) consider(*drain_deadline_);
  return wake;
}

epoch_progress epoch_core::progress() const noexcept {
  return epoch_progress{source_.size(), sent_, completed_, failed_, in_flight_};
}

std::vector<request_record> epoch_core::take_records() {
  std::vector<request_record> out;
  out.reserve(sent_);
  for (std::size_t i = 0; i < records_.size(); ++i)
    if (req_[i].routed) out.push_back(std::move(records_[i]));
  records_.clear();
  return out;
}

std::string epoch_core::nodes_out_text() const {
  std::string t;
  for (std::size_t k = 0; k < nodes_.size(); ++k) {
    const auto& nd = nodes_[k];
    if (!nd.probing && !nd.suspect) continue;
    if (!t.empty()) t += "; ";
    t += "node_" + std::to_string(k) + ": " + (nd.probing ? nd.out_reason : std::string("checking /health"));
  }
  return t;
}

}  // namespace planetserve::experiment
