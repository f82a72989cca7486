// SPDX-License-Identifier: MIT
// Compiled body of experiment::virtual_fleet.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/experiment/virtual_fleet.hpp>
#include <planetserve/sim/chat_template.hpp>
#include <planetserve/sim/detail/request_parser.hpp>
#include <planetserve/sim/metrics_writer.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace planetserve::experiment {

result<std::unique_ptr<virtual_fleet>> virtual_fleet::create(const sim::fleet_config& config, diagnostics& diag) {
  if (config.num_nodes == 0) {
    diag.message = "virtual fleet: num_nodes must be at least 1";
    return error::invalid_argument;
  }
  std::unique_ptr<virtual_fleet> f(new virtual_fleet());
  f->nodes_.reserve(config.num_nodes);
  for (std::size_t i = 0; i < config.num_nodes; ++i) {
    sim::node_config nc = config.node_at(i);
    diagnostics d;
    const sim::engine_config ec = nc.effective_engine();
    if (auto e = sim::engine::validate(ec, d)) {
      diag.message = "virtual node " + std::to_string(i) + ": " + d.message;
      return error::invalid_argument;
    }
    auto tok = nc.tokenizer ? nc.tokenizer : sim::default_prompt_tokenizer(nc.chat);
    f->nodes_.emplace_back(std::move(nc), sim::engine(ec), std::move(tok));
    std::string page;
    f->metrics_page(i, page);
    auto shape = prom::parse_vllm_snapshot(page, &d);
    if (!shape) {
      diag.message = "virtual node " + std::to_string(i) + ": its /metrics page does not parse: " + d.message;
      return error::invalid_argument;
    }
    f->nodes_.back().page_shape = *shape;
  }
  f->model_ = f->nodes_.front().cfg.served_model_name;
  return f;
}

namespace {
attempt_result refused_attempt(epoch_time at, unsigned status, std::string message) {
  attempt_result a;
  a.sent_s = a.finished_s = std::chrono::duration<double>(at).count();
  a.absolute_start = a.sent_s;  // the caller adds its wall-clock origin
  a.http_status = static_cast<int>(status);
  a.error = "HTTP " + std::to_string(status) + ": " + std::move(message);
  a.error_kind = "http_" + std::to_string(status);
  return a;
}
}  // namespace

std::optional<attempt_result> virtual_fleet::send(std::size_t request, dispatch::node_index node,
                                                  std::string_view body, bool chat, epoch_time now, bool keep_text) {
  auto& nd = nodes_.at(node);
  sim::detail::generation_request g;
  if (auto e = sim::detail::parse_generation(body, chat, nd.cfg, *nd.tokenizer, g))
    return refused_attempt(now, e->status, e->message);
  return admit(request, node, std::move(g.prompt), g.params, now, keep_text);
}

std::optional<attempt_result> virtual_fleet::send_tokens(std::size_t request, dispatch::node_index node,
                                                         std::vector<tokenize::token_id> prompt,
                                                         const openai::request_options& options, epoch_time now,
                                                         bool keep_text) {
  auto& nd = nodes_.at(node);
  // What parse_generation reads from a body built with these options.
  if (!options.model.empty() && options.model != nd.cfg.served_model_name)
    return refused_attempt(now, 404, "The model `" + options.model + "` does not exist.");
  if (options.max_tokens && *options.max_tokens < 1)
    return refused_attempt(now, 400, "max_tokens must be at least 1, got " + std::to_string(*options.max_tokens) + ".");
  sim::sampling_params params;
  if (options.max_tokens) params.max_tokens = *options.max_tokens;
  params.min_tokens = options.min_tokens.value_or(0);
  params.ignore_eos = options.ignore_eos.value_or(false);
  return admit(request, node, std::move(prompt), params, now, keep_text);
}

std::optional<attempt_result> virtual_fleet::admit(std::size_t request, dispatch::node_index node,
                                                   std::vector<tokenize::token_id> prompt,
                                                   const sim::sampling_params& params, epoch_time now, bool keep_text) {
  auto& nd = nodes_.at(node);
  const sim::time_point at = origin_ + now;
  std::string id = "req-" + std::to_string(nd.next_id++);
  const std::size_t prompt_len = prompt.size();
  diagnostics diag;
  if (auto ec = nd.eng.add_request(id, std::move(prompt), params, at, diag)) return refused_attempt(now, 400, diag.message);
  nd.last_arrival = std::max(nd.last_arrival, at);
  attempt_result a;
  a.sent_s = seconds(at);
  a.absolute_start = a.sent_s;  // the caller adds its wall-clock origin
  a.prompt_tokens = planetserve::detail::saturate_cast<std::uint32_t>(prompt_len);
  // One chunk per step that emits tokens: at most max_tokens, so reserved once instead of grown.
  a.chunk_s.reserve(std::min<std::size_t>(params.max_tokens.value_or(64), 16384));
  nd.live.emplace(std::move(id), live_request{request, std::move(a), false, keep_text});
  reschedule(node);
  return std::nullopt;
}

std::optional<sim::time_point> virtual_fleet::node_event(const engine_node& nd) const {
  if (nd.in_flight) return nd.in_flight->end;
  const auto next = nd.eng.next_step_time();
  if (!next) return std::nullopt;
  // A step starts when the previous one ended or when the latest request arrived, as the
  // node's step loop starts it.
  return std::max(*next, nd.last_arrival);
}

void virtual_fleet::reschedule(std::size_t k) {
  auto& nd = nodes_[k];
  ++nd.version;
  if (auto t = node_event(nd)) events_.push(event{*t, k, nd.version});
}

std::optional<epoch_time> virtual_fleet::next_event() const {
  // Stale entries (a node rescheduled since) are skipped by advance(); the earliest entry is
  // never later than the true next event, so waking for it is safe.
  if (events_.empty()) return std::nullopt;
  return std::max(epoch_time{0}, events_.top().at - origin_);
}

void virtual_fleet::advance(epoch_time now, std::vector<std::pair<std::size_t, attempt_result>>& ended) {
  const sim::time_point until = origin_ + now;
  while (!events_.empty() && events_.top().at <= until) {
    const event e = events_.top();
    events_.pop();
    if (e.version != nodes_[e.node].version) continue;
    run_node(e.node, e.at, ended);
    reschedule(e.node);
  }
}

void virtual_fleet::run_node(std::size_t k, sim::time_point now, std::vector<std::pair<std::size_t, attempt_result>>& ended) {
  auto& nd = nodes_[k];
  // As the node's step loop: deliver a step whose end has come, then start the next step if
  // it is due; zero-time steps run back to back.
  for (int guard = 0; guard < 1'000'000; ++guard) {
    if (nd.in_flight) {
      if (nd.in_flight->end > now) return;
      sim::step_result r = std::move(*nd.in_flight);
      nd.in_flight.reset();
      deliver(nd, r, ended);
      if (!nd.step_events.empty()) {
        kv_batch b;
        b.node = k;
        b.batch.ts = seconds(r.end);
        b.batch.events = std::move(nd.step_events);
        nd.step_events.clear();
        kv_out_.push_back(std::move(b));
      }
      continue;
    }
    const auto next = nd.eng.next_step_time();
    if (!next) return;
    const sim::time_point start = std::max(*next, nd.last_arrival);
    if (start > now) return;
    nd.in_flight = nd.eng.step(start);
    if (nd.eng.config().enable_kv_cache_events) nd.step_events = nd.eng.take_kv_events();
  }
  throw std::logic_error("virtual fleet: a node made no progress in a million steps at one instant");
}

void virtual_fleet::deliver(engine_node& nd, const sim::step_result& r, std::vector<std::pair<std::size_t, attempt_result>>& ended) {
  const double at = seconds(r.end);
  const auto& gen = nd.eng.generator();
  for (const auto& o : r.outputs) {
    auto it = nd.live.find(o.id);
    if (it == nd.live.end()) continue;
    live_request& lr = it->second;
    attempt_result& a = lr.result;
    // One SSE event per step; it is a content chunk when its tokens have text. Every token
    // the engine's generator produces has text, so the text is looked up only when kept.
    bool content = !o.tokens.empty();
    if (lr.keep_text) {
      content = false;
      for (auto t : o.tokens) {
        const auto piece = gen.piece(t);
        content = content || !piece.empty();
        a.reply += piece;
      }
    }
    if (content) {
      if (!lr.wrote_content) a.first_token_s = at;
      lr.wrote_content = true;
      a.chunk_s.push_back(at);
    }
    a.prompt_tokens = planetserve::detail::saturate_cast<std::uint32_t>(o.usage.prompt_tokens);
    a.completion_tokens = planetserve::detail::saturate_cast<std::uint32_t>(o.usage.completion_tokens);
    if (o.finished) {
      a.finished_s = at;
      a.http_status = 200;
      a.usage_reported = true;
      // vLLM reports cached tokens only with --enable-prompt-tokens-details, and only a hit.
      if (nd.cfg.enable_prompt_tokens_details && o.usage.cached_tokens > 0)
        a.cached_tokens = planetserve::detail::saturate_cast<std::uint32_t>(o.usage.cached_tokens);
      a.finish_reason = sim::to_string(*o.finished);
      a.response_id = it->first;
      a.ok = true;
      ended.emplace_back(lr.request, std::move(a));
      nd.live.erase(it);
    }
  }
}

void virtual_fleet::abandon(epoch_time now, std::vector<std::pair<std::size_t, attempt_result>>& ended) {
  const double at = seconds(origin_ + now);
  for (std::size_t k = 0; k < nodes_.size(); ++k) {
    auto& nd = nodes_[k];
    for (auto& [id, lr] : nd.live) {
      nd.eng.abort(id);
      lr.result.finished_s = at;
      lr.result.http_status = std::isfinite(lr.result.first_token_s) ? 200 : 0;
      lr.result.error = "abandoned at the drain timeout";
      lr.result.error_kind = "interrupted";
      ended.emplace_back(lr.request, std::move(lr.result));
    }
    nd.live.clear();
    nd.in_flight.reset();
    reschedule(k);
  }
}

std::function<void(const workload::prompt&, std::vector<tokenize::token_id>&)> virtual_fleet::node_tokens(
    const sim::node_config& node, bool chat) {
  // What the node's request parser does with the same request (and vLLM with its template):
  // chat renders the messages, or the text as one user turn; completions put BOS first.
  std::shared_ptr<const tokenize::tokenizer> tok = node.tokenizer ? node.tokenizer : sim::default_prompt_tokenizer(node.chat);
  return [tok, tpl = node.chat, chat](const workload::prompt& p, std::vector<tokenize::token_id>& out) {
    sim::encode_node_prompt(tpl, *tok, chat, p.messages, p.text, out);
  };
}

void virtual_fleet::metrics_page(std::size_t k, std::string& out) const {
  const auto& nd = nodes_.at(k);
  const auto page = nd.cfg.metrics_page();
  sim::write_metrics(sim::view_of(nd.eng), page, out);
}

prom::vllm_snapshot virtual_fleet::snapshot(std::size_t k) const {
  const auto& nd = nodes_.at(k);
  const sim::metrics_view v = sim::view_of(nd.eng);
  const sim::engine_stats& st = *v.stats;
  const auto d = [](std::uint64_t x) { return static_cast<double>(x); };
  prom::vllm_snapshot s = nd.page_shape;
  // One engine per node: every sum over series is the one series' value.
  s.kv_cache_usage = v.kv_cache_usage;
  if (!std::isnan(s.prefix_cache_queries)) s.prefix_cache_queries = d(st.prefix_cache_queries);
  if (!std::isnan(s.prefix_cache_hits)) s.prefix_cache_hits = d(st.prefix_cache_hits);
  s.ttft_sum = st.time_to_first_token.sum;
  s.ttft_count = d(st.time_to_first_token.count);
  s.tpot_sum = st.inter_token_latency.sum;  // inter-token latency; V0's time_per_output_token is the same histogram
  s.tpot_count = d(st.inter_token_latency.count);
  s.e2e_sum = st.e2e_request_latency.sum;
  s.e2e_count = d(st.e2e_request_latency.count);
  s.prompt_tokens = d(st.prompt_tokens);
  s.generation_tokens = d(st.generation_tokens);
  double success = 0;
  for (const auto n : st.request_success) success += d(n);
  s.request_success = success;
  s.num_preemptions = d(st.preemptions);
  s.num_running = d(v.running);
  s.num_waiting = d(v.waiting);
  if (s.legacy_prefix_cache_hit_rate)
    s.legacy_prefix_cache_hit_rate =
        st.prefix_cache_queries == 0 ? 0.0 : d(st.prefix_cache_hits) / d(st.prefix_cache_queries);
  return s;
}

bool virtual_fleet::reset_prefix_caches() {
  bool all = true;
  for (auto& nd : nodes_) all = nd.eng.reset_prefix_cache() && all;
  return all;
}

}  // namespace planetserve::experiment
