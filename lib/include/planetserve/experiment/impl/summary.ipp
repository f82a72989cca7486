// SPDX-License-Identifier: MIT
// Compiled body of summarize() and the node timeline look-ups.
#pragma once

#include <planetserve/experiment/stats.hpp>
#include <planetserve/experiment/summary.hpp>
#include <planetserve/prom/counter_growth.hpp>

#include <algorithm>
#include <cmath>

namespace planetserve::experiment {

const node_sample* node_timeline::at(double t_s) const noexcept {
  auto it = std::upper_bound(samples.begin(), samples.end(), t_s,
                             [](double t, const node_sample& s) { return t < s.t_s; });
  return it == samples.begin() ? nullptr : &*(it - 1);
}

std::pair<const node_sample*, const node_sample*> node_timeline::between(double from_s,
                                                                         double to_s) const noexcept {
  auto lo = std::lower_bound(samples.begin(), samples.end(), from_s,
                             [](const node_sample& s, double t) { return s.t_s < t; });
  auto hi = std::upper_bound(lo, samples.end(), to_s,
                             [](double t, const node_sample& s) { return t < s.t_s; });
  const node_sample* base = samples.data();
  return {base + (lo - samples.begin()), base + (hi - samples.begin())};
}

namespace {

struct sorted_stats {
  std::vector<double> v;
  void add(double x) {
    if (std::isfinite(x)) v.push_back(x);
  }
  void finish() { std::sort(v.begin(), v.end()); }
  double avg() const { return mean(v); }
  double p(double q) const { return percentile_sorted(v, q); }
  double max() const { return v.empty() ? missing : v.back(); }
};

double ratio(double num, double den) { return den > 0 ? num / den : missing; }

/// Counter growth over a timeline (prom::growth_of: restarts told from bad readings); the
/// readings it left out are added to `skipped`.
template <class Get>
double growth(const node_timeline& tl, Get get, std::size_t& skipped) {
  std::vector<double> readings;
  readings.reserve(tl.samples.size());
  for (const auto& smp : tl.samples) readings.push_back(get(smp.snap));
  const auto g = prom::growth_of(readings);
  // A series no scrape had (a server without prefix caching, say) is absent, not skipped.
  if (std::any_of(readings.begin(), readings.end(), [](double x) { return std::isfinite(x); }))
    skipped += g.skipped;
  return g.growth;
}

}  // namespace

std::vector<turn_summary> summarize_turns(std::span<const request_record> records) {
  std::vector<turn_summary> out;
  std::vector<double> ttft_sum, cached, prompt;
  std::vector<bool> reported;
  for (const auto& r : records) {
    if (r.turn == 0 || !r.ok) continue;
    if (out.size() < r.turn) {
      out.resize(r.turn);
      ttft_sum.resize(r.turn);
      cached.resize(r.turn);
      prompt.resize(r.turn);
      reported.resize(r.turn);
    }
    const std::size_t k = r.turn - 1;
    ++out[k].requests;
    if (std::isfinite(r.ttft_s())) ttft_sum[k] += r.ttft_s();
    if (r.usage_reported) {
      cached[k] += r.cached_tokens.value_or(0);
      prompt[k] += r.prompt_tokens;
      reported[k] = reported[k] || r.cached_tokens.has_value();
    }
  }
  for (std::size_t k = 0; k < out.size(); ++k) {
    out[k].turn = static_cast<std::uint32_t>(k + 1);
    if (out[k].requests > 0) out[k].ttft_mean_s = ttft_sum[k] / static_cast<double>(out[k].requests);
    if (reported[k] && prompt[k] > 0) out[k].cached_ratio = cached[k] / prompt[k];
  }
  return out;
}

run_summary summarize(std::span<const request_record> records,
                      std::span<const node_timeline> timelines,
                      const std::optional<goodput_spec>& goodput) {
  run_summary s;
  s.requests = records.size();
  s.nodes.resize(timelines.size());
  for (std::size_t k = 0; k < timelines.size(); ++k) {
    s.nodes[k].name = timelines[k].name;
    s.nodes[k].url = timelines[k].url;
    s.nodes[k].failed_scrapes = timelines[k].failed_scrapes;
  }

  sorted_stats ttft, tpot, e2e, lag, prompt, completion, asked;
  // Inter-token gaps: hundreds per request (two hundred million in a million-request run), so
  // sized once and reduced by selection, not sorted.
  std::vector<double> itl;
  {
    std::size_t gaps = 0;
    for (const auto& r : records)
      if (r.ok && r.chunk_s.size() > 1) gaps += r.chunk_s.size() - 1;
    itl.reserve(gaps);
  }
  double gen_tokens = 0, all_tokens = 0, cached = 0, usage_prompt = 0;
  std::map<std::size_t, std::vector<double>> sends_by_epoch;
  // Duration per epoch: first send to last finish, summed over epochs.
  std::map<std::size_t, std::pair<double, double>> span_by_epoch;
  for (const auto& r : records) {
    if (std::isfinite(r.sent_s)) {
      sends_by_epoch[r.epoch].push_back(r.sent_s);
      auto [it, fresh] = span_by_epoch.try_emplace(r.epoch, r.sent_s, r.sent_s);
      it->second.first = std::min(it->second.first, r.sent_s);
      if (std::isfinite(r.finished_s)) it->second.second = std::max(it->second.second, r.finished_s);
      (void)fresh;
    }
    // Send lag and the inter-arrival gaps are over requests actually sent (sent_s is NaN otherwise).
    lag.add(r.send_lag_s());
    if (!std::isfinite(r.sent_s)) ++s.not_sent;
    s.retries += r.retries;
    if (r.retries > 0) ++s.retried_requests;
    if (r.node < s.nodes.size()) {
      ++s.nodes[r.node].requests;
      if (!r.ok) ++s.nodes[r.node].failed;
    }
    if (!r.ok) {
      ++s.failed;
      ++s.failures[r.error_kind.empty() ? std::string("error") : r.error_kind];
      continue;
    }
    ++s.ok;
    ttft.add(r.ttft_s());
    tpot.add(r.tpot_s());
    e2e.add(r.e2e_s());
    for (std::size_t i = 1; i < r.chunk_s.size(); ++i)  // request_record::itl_s(), without a vector per request
      if (const double g = r.chunk_s[i] - r.chunk_s[i - 1]; std::isfinite(g)) itl.push_back(g);
    prompt.add(r.prompt_tokens);
    completion.add(r.completion_tokens);
    if (r.max_tokens > 0) {
      asked.add(r.max_tokens);
      if (r.completion_tokens < r.max_tokens) ++s.short_outputs;
    }
    gen_tokens += r.completion_tokens;
    all_tokens += r.completion_tokens + r.prompt_tokens;
    if (r.usage_reported) {
      cached += r.cached_tokens.value_or(0);
      usage_prompt += r.prompt_tokens;
    }
  }
  s.epochs = std::max<std::size_t>(1, span_by_epoch.size());
  for (const auto& [epoch, span] : span_by_epoch) s.duration_s += span.second - span.first;
  for (auto* st : {&ttft, &tpot, &e2e, &lag, &prompt, &completion, &asked}) st->finish();

  s.request_throughput = ratio(static_cast<double>(s.ok), s.duration_s);
  if (goodput) {
    // vLLM bench's goodput: completed requests meeting every bound, over the run's duration.
    s.goodput_bounds = goodput;
    s.good_requests = static_cast<std::size_t>(
        std::count_if(records.begin(), records.end(), [&](const request_record& r) { return meets_goodput(r, *goodput); }));
    s.goodput = ratio(static_cast<double>(*s.good_requests), s.duration_s);
  }
  s.token_throughput = ratio(gen_tokens, s.duration_s);
  s.total_token_throughput = ratio(all_tokens, s.duration_s);
  s.ttft_mean_s = ttft.avg();
  s.ttft_p50_s = ttft.p(50);
  s.ttft_p99_s = ttft.p(99);
  s.tpot_mean_s = tpot.avg();
  s.tpot_p99_s = tpot.p(99);
  s.itl_mean_s = mean(itl);
  s.itl_p99_s = percentile_select(itl, 99);
  s.e2e_mean_s = e2e.avg();
  s.e2e_p50_s = e2e.p(50);
  s.e2e_p99_s = e2e.p(99);
  s.send_lag_mean_s = lag.avg();
  s.send_lag_p99_s = lag.p(99);
  s.send_lag_max_s = lag.max();
  s.prompt_tokens_mean = prompt.avg();
  s.completion_tokens_mean = completion.avg();
  s.max_tokens_mean = asked.avg();
  s.prediction = measure_cache_prediction(records);
  // No cached tokens reported at all: the ratio is unknown, not 0.
  s.client_cached_ratio = s.prediction.reported > 0 ? ratio(cached, usage_prompt) : missing;
  s.turns = summarize_turns(records);
  std::vector<double> gaps;
  for (auto& [epoch, sends] : sends_by_epoch) {
    std::sort(sends.begin(), sends.end());
    for (std::size_t i = 1; i < sends.size(); ++i) gaps.push_back(sends[i] - sends[i - 1]);
  }
  s.inter_arrival_mean_s = mean(gaps);

  // Shares are of the requests that reached a node; unrouted ones are no node's share.
  double routed = 0;
  for (const auto& n : s.nodes) routed += static_cast<double>(n.requests);
  double hits = 0, queries = 0, kv_sum = 0, kv_n = 0, ttft_sum = 0, ttft_n = 0, tpot_sum = 0,
         tpot_n = 0;
  for (std::size_t k = 0; k < timelines.size(); ++k) {
    const auto& tl = timelines[k];
    auto& n = s.nodes[k];
    n.share = routed > 0 ? static_cast<double>(n.requests) / routed : 0;
    std::size_t& skipped = n.skipped_readings;
    const double h = growth(tl, [](const auto& x) { return x.prefix_cache_hits; }, skipped);
    const double q = growth(tl, [](const auto& x) { return x.prefix_cache_queries; }, skipped);
    n.prefix_hit_ratio = ratio(h, q);
    hits += h;
    queries += q;
    // A NaN gauge reading is skipped (and counted), not allowed to blank the mean.
    double node_kv = 0, node_kv_n = 0;
    for (const auto& smp : tl.samples) {
      if (!std::isfinite(smp.snap.kv_cache_usage)) {
        ++skipped;
        continue;
      }
      node_kv += smp.snap.kv_cache_usage;
      ++node_kv_n;
    }
    n.kv_cache_usage_mean = ratio(node_kv, node_kv_n);
    kv_sum += node_kv;
    kv_n += node_kv_n;
    ttft_sum += growth(tl, [](const auto& x) { return x.ttft_sum; }, skipped);
    ttft_n += growth(tl, [](const auto& x) { return x.ttft_count; }, skipped);
    tpot_sum += growth(tl, [](const auto& x) { return x.tpot_sum; }, skipped);
    tpot_n += growth(tl, [](const auto& x) { return x.tpot_count; }, skipped);
  }
  s.prefix_hit_ratio = ratio(hits, queries);
  s.kv_cache_usage_mean = ratio(kv_sum, kv_n);
  s.server_ttft_mean_s = ratio(ttft_sum, ttft_n);
  s.server_tpot_mean_s = ratio(tpot_sum, tpot_n);
  return s;
}

}  // namespace planetserve::experiment
