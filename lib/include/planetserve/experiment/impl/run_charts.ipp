// SPDX-License-Identifier: MIT
// Compiled body of the run's figures.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/experiment/downsample.hpp>
#include <planetserve/experiment/run_charts.hpp>
#include <planetserve/experiment/stats.hpp>

#include <algorithm>
#include <cmath>

namespace planetserve::experiment {

namespace {

double end_time(std::span<const node_timeline> timelines, std::span<const request_record> records) {
  double end = 0;
  for (const auto& tl : timelines)
    if (!tl.samples.empty()) end = std::max(end, tl.samples.back().t_s);
  for (const auto& r : records)
    if (std::isfinite(r.finished_s)) end = std::max(end, r.finished_s);
  return end;
}

/// Per node: (Δnum/Δden) over sliding windows, sampled every window; NaN where den is 0.
template <class Num, class Den>
plot_series window_ratio(const node_timeline& tl, double window, double end, Num num, Den den,
                         std::string title) {
  plot_series s{std::move(title), {}, plot_style::lines};
  for (double t = window; t <= end + 1e-9; t += window) {
    const auto* a = tl.at(t - window);
    const auto* b = tl.at(t);
    if (!a || !b || a == b) {
      s.points.emplace_back(t, missing);
      continue;
    }
    const double d = den(b->snap, b->t_s) - den(a->snap, a->t_s);
    s.points.emplace_back(t, d > 0 ? (num(b->snap) - num(a->snap)) / d : missing);
  }
  return s;
}

chart per_request(std::span<const request_record> records, const char* name, const char* title,
                  const char* y, double (request_record::*metric)() const) {
  chart c{name, title, "request sent at (s since start)", y, {}};
  plot_series pts{"per request", {}, plot_style::points};
  std::vector<double> values;
  for (const auto& r : records) {
    if (!r.ok) continue;
    const double v = (r.*metric)();
    if (!std::isfinite(v)) continue;
    pts.points.emplace_back(r.sent_s, v);
    values.push_back(v);
  }
  std::sort(pts.points.begin(), pts.points.end());
  // Running mean in arrival order: what the seed's cumulative averages show.
  plot_series run{"running mean", {}, plot_style::lines};
  double sum = 0;
  for (std::size_t i = 0; i < pts.points.size(); ++i) {
    sum += pts.points[i].second;
    run.points.emplace_back(pts.points[i].first, sum / static_cast<double>(i + 1));
  }
  c.series.push_back(std::move(pts));
  c.series.push_back(std::move(run));
  return c;
}


// The p10, median, p90 and max across series sampled on one grid (same x at each index).
std::vector<plot_series> bands_across(const std::vector<plot_series>& per_node) {
  std::vector<plot_series> out{{"p10 of nodes", {}, plot_style::lines},
                               {"median of nodes", {}, plot_style::lines},
                               {"p90 of nodes", {}, plot_style::lines},
                               {"max of nodes", {}, plot_style::lines}};
  if (per_node.empty()) return out;
  const std::size_t n = per_node.front().points.size();
  std::vector<double> ys;
  for (std::size_t i = 0; i < n; ++i) {
    ys.clear();
    for (const auto& s : per_node)
      if (i < s.points.size() && std::isfinite(s.points[i].second)) ys.push_back(s.points[i].second);
    std::sort(ys.begin(), ys.end());
    const double x = per_node.front().points[i].first;
    const double qs[] = {10, 50, 90, 100};
    for (std::size_t k = 0; k < 4; ++k) out[k].points.emplace_back(x, percentile_sorted(ys, qs[k]));
  }
  return out;
}

// An even grid of at most `points` times over [from, to].
std::vector<double> time_grid(double from, double to, std::size_t points) {
  std::vector<double> g;
  if (!(to > from)) return {from};
  for (std::size_t i = 0; i < points; ++i)
    g.push_back(from + (to - from) * static_cast<double>(i) / static_cast<double>(points - 1));
  return g;
}

double timelines_end(std::span<const node_timeline> timelines) {
  double end = 0;
  for (const auto& tl : timelines)
    if (!tl.samples.empty()) end = std::max(end, tl.samples.back().t_s);
  return end;
}
}  // namespace

std::vector<chart> run_charts(std::span<const request_record> records,
                              std::span<const node_timeline> timelines, double window_s) {
  std::vector<chart> out;
  const double end = end_time(timelines, records);
  if (window_s <= 0) window_s = 1.0;

  out.push_back(per_request(records, "latency_stats", "End-to-end latency (client-side)",
                            "latency (s)", &request_record::e2e_s));
  out.push_back(per_request(records, "ttft_stats", "Time to first token (client-side)",
                            "TTFT (s)", &request_record::ttft_s));
  out.push_back(per_request(records, "tpot_stats", "Time per output token (client-side)",
                            "TPOT (s)", &request_record::tpot_s));

  {
    chart c{"prefix_hit_rate", "Prefix cache hit rate per node (server /metrics, per window)",
            "time (s)", "hit rate (Δhits/Δqueries)", {}};
    for (const auto& tl : timelines)
      c.series.push_back(window_ratio(
          tl, window_s, end, [](const auto& s) { return s.prefix_cache_hits; },
          [](const auto& s, double) { return s.prefix_cache_queries; }, tl.name));
    if (c.series.size() > max_node_lines) c.series = bands_across(c.series);  // same window grid for all
    out.push_back(std::move(c));
  }
  {
    // Since the start, the fleet's and each node's: no gaps where a window had no query.
    chart c{"prefix_hit_ratio_cumulative", "Prefix cache hit ratio since the start (server /metrics)",
            "time (s)", "hit ratio (Σ hits / Σ queries so far)", {}};
    c.series.push_back(cumulative_hit_ratio(timelines, "all nodes"));
    if (timelines.size() <= max_node_lines)
      for (std::size_t k = 0; k < timelines.size(); ++k)
        c.series.push_back(cumulative_hit_ratio(timelines.subspan(k, 1), timelines[k].name));
    out.push_back(std::move(c));
  }
  {
    chart c{"arrival_distribution", "Inter-arrival times (client-side sends)", "gap (s)",
            "requests", {}};
    std::vector<double> sends;
    for (const auto& r : records)
      if (std::isfinite(r.sent_s) && r.epoch == 0) sends.push_back(r.sent_s);
    std::sort(sends.begin(), sends.end());
    std::vector<double> gaps;
    for (std::size_t i = 1; i < sends.size(); ++i) gaps.push_back(sends[i] - sends[i - 1]);
    plot_series hist{"measured", {}, plot_style::boxes};
    if (!gaps.empty()) {
      const double hi = *std::max_element(gaps.begin(), gaps.end());
      const int bins = std::clamp(static_cast<int>(std::sqrt(static_cast<double>(gaps.size()))), 5, 50);
      const double w = hi > 0 ? hi / bins : 1;
      std::vector<double> counts(static_cast<std::size_t>(bins), 0);
      for (double g : gaps)
        // g / w is at most `bins`, except for an infinite gap (from a file's 1e308 times): last bin.
        counts[std::min(planetserve::detail::checked_cast<std::size_t>(g / w).value_or(counts.size() - 1), counts.size() - 1)] += 1;
      c.box_width = w * 0.9;
      for (std::size_t b = 0; b < counts.size(); ++b)
        hist.points.emplace_back((static_cast<double>(b) + 0.5) * w, counts[b]);
    }
    c.series.push_back(std::move(hist));
    out.push_back(std::move(c));
  }
  auto fleet_rate = [&](const char* name, const char* title, const char* y,
                        double prom::vllm_snapshot::*counter) {
    chart c{name, title, "time (s)", y, {}};
    plot_series total{"all nodes", {}, plot_style::lines};
    for (double t = window_s; t <= end + 1e-9; t += window_s) {
      double sum = 0;
      bool any = false;
      for (const auto& tl : timelines) {
        const auto* a = tl.at(t - window_s);
        const auto* b = tl.at(t);
        if (!a || !b || a == b) continue;
        // A counter that went down was reset (server restarted): count from zero, not negative.
        const double va = a->snap.*counter, vb = b->snap.*counter;
        sum += (vb >= va ? vb - va : vb) / (b->t_s - a->t_s);
        any = true;
      }
      total.points.emplace_back(t, any ? sum : missing);
    }
    c.series.push_back(std::move(total));
    out.push_back(std::move(c));
  };
  fleet_rate("token_throughput", "Generated token throughput (server /metrics)", "tokens/s",
             &prom::vllm_snapshot::generation_tokens);
  fleet_rate("request_throughput", "Request throughput (server /metrics)", "requests/s",
             &prom::vllm_snapshot::request_success);

  auto per_node_gauge = [&](const char* name, const char* title, const char* y, auto get) {
    chart c{name, title, "time (s)", y, {}};
    c.series = per_node_series(timelines, get, window_s);
    out.push_back(std::move(c));
  };
  per_node_gauge("kv_cache_usage", "KV-cache usage per node (server /metrics)", "fraction of blocks",
                 +[](const prom::vllm_snapshot& s) { return s.kv_cache_usage; });
  per_node_gauge("node_load", "Requests running + waiting per node (server /metrics)", "requests",
                 +[](const prom::vllm_snapshot& s) { return s.num_running + s.num_waiting; });

  // Predicted against reported cached tokens: only when some completed request has both
  // (a policy with a prefix model, servers that report the details).
  plot_series pairs{"per request", {}, plot_style::points};
  double most = 0;
  for (const auto& r : records) {
    if (!r.ok || !r.predicted_cached_tokens || !r.cached_tokens) continue;
    const double p = *r.predicted_cached_tokens, c = *r.cached_tokens;
    pairs.points.emplace_back(p, c);
    most = std::max({most, p, c});
  }
  if (!pairs.points.empty()) {
    chart c{"cache_prediction", "Cached prompt tokens: the policy's prediction against the server's usage",
            "predicted (tokens)", "reported by the server (tokens)", {}};
    c.series.push_back(std::move(pairs));
    c.series.push_back(plot_series{"exact", {{0, 0}, {most, most}}, plot_style::lines});
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<chart> comparison_charts(std::span<const run_summary> runs) {
  std::vector<chart> out;
  std::vector<std::string> names;
  for (const auto& r : runs) names.push_back(r.policy);
  auto bars = [&](const char* name, const char* title, const char* y,
                  std::initializer_list<std::pair<const char*, double run_summary::*>> metrics) {
    chart c{name, title, "policy", y, {}};
    c.x_tics = names;
    c.box_width = 0.8 / static_cast<double>(metrics.size());
    const double n = static_cast<double>(metrics.size());
    int m = 0;
    for (const auto& [label, member] : metrics) {
      // Side-by-side bars: shift each metric's bar within its policy's slot.
      plot_series s{label, {}, plot_style::boxes};
      for (std::size_t i = 0; i < runs.size(); ++i)
        s.points.emplace_back(static_cast<double>(i) - 0.4 + (m + 0.5) * 0.8 / n, runs[i].*member);
      c.series.push_back(std::move(s));
      ++m;
    }
    out.push_back(std::move(c));
  };
  bars("compare_latency", "TTFT and end-to-end latency by policy (client-side)", "seconds",
       {{"TTFT mean", &run_summary::ttft_mean_s},
        {"TTFT p99", &run_summary::ttft_p99_s},
        {"E2E mean", &run_summary::e2e_mean_s},
        {"E2E p99", &run_summary::e2e_p99_s}});
  bars("compare_hit_ratio", "Prefix cache hit ratio by policy (server /metrics)", "Δhits/Δqueries",
       {{"prefix hit ratio", &run_summary::prefix_hit_ratio}});
  return out;
}

plot_series cumulative_hit_ratio(std::span<const node_timeline> timelines, std::string title) {
  plot_series s{std::move(title), {}, plot_style::lines};
  double first = INFINITY;
  for (const auto& tl : timelines)
    if (!tl.samples.empty()) first = std::min(first, tl.samples.front().t_s);
  if (!std::isfinite(first)) return s;
  // A grid rather than every scrape: a 1,024-node run scrapes millions of times.
  const auto grid = time_grid(first, timelines_end(timelines), max_drawn_points);
  std::vector<std::size_t> at(timelines.size(), 0);
  for (double t : grid) {
    double hits = 0, queries = 0;
    for (std::size_t k = 0; k < timelines.size(); ++k) {
      const auto& smp = timelines[k].samples;
      if (smp.empty() || smp.front().t_s > t) continue;
      while (at[k] + 1 < smp.size() && smp[at[k] + 1].t_s <= t) ++at[k];
      const double dh = smp[at[k]].snap.prefix_cache_hits - smp.front().snap.prefix_cache_hits;
      const double dq = smp[at[k]].snap.prefix_cache_queries - smp.front().snap.prefix_cache_queries;
      // A counter reset (restart) or NaN reading leaves the node's share out at this time.
      if (std::isfinite(dh) && std::isfinite(dq) && dq >= 0 && dh >= 0) hits += dh, queries += dq;
    }
    if (queries > 0) s.points.emplace_back(t, hits / queries);
  }
  return s;
}

plot_series ttft_cdf(std::span<const request_record> records, std::string title) {
  plot_series s{std::move(title), {}, plot_style::steps};
  std::vector<double> v;
  for (const auto& r : records)
    if (r.ok && std::isfinite(r.ttft_s())) v.push_back(r.ttft_s());
  std::sort(v.begin(), v.end());
  const double n = static_cast<double>(v.size());
  if (!v.empty()) s.points.emplace_back(v.front(), 0.0);
  for (std::size_t i = 0; i < v.size(); ++i) s.points.emplace_back(v[i], static_cast<double>(i + 1) / n);
  return s;
}

std::vector<chart> comparison_record_charts(std::span<const labelled_run> runs) {
  chart cdf{"compare_ttft_cdf", "Time to first token, CDF by policy (client-side)", "TTFT (s)",
            "fraction of completed requests", {}};
  chart hit{"compare_hit_ratio_over_time", "Prefix cache hit ratio since the start, by policy (server /metrics)",
            "time (s)", "hit ratio (Σ hits / Σ queries so far)", {}};
  for (const auto& r : runs) {
    cdf.series.push_back(r.ttft_cdf ? *r.ttft_cdf : ttft_cdf(r.records, r.label));
    hit.series.push_back(cumulative_hit_ratio(r.timelines, r.label));
  }
  return {std::move(cdf), std::move(hit)};
}

std::vector<plot_series> per_node_series(std::span<const node_timeline> timelines,
                                         double (*get)(const prom::vllm_snapshot&), double step_s) {
  std::vector<plot_series> out;
  if (timelines.size() <= max_node_lines) {
    for (const auto& tl : timelines) {
      plot_series s{tl.name, {}, plot_style::lines};
      for (const auto& smp : tl.samples) s.points.emplace_back(smp.t_s, get(smp.snap));
      out.push_back(std::move(s));
    }
    return out;
  }
  // Every node read at the same times, then reduced to bands.
  const double end = timelines_end(timelines);
  const auto steps = planetserve::detail::checked_cast<std::size_t>(end / std::max(step_s, 1e-3)).value_or(0);
  const auto grid = time_grid(0, end, std::clamp<std::size_t>(steps + 1, 2, max_drawn_points));
  for (const auto& tl : timelines) {
    plot_series s{tl.name, {}, plot_style::lines};
    std::size_t i = 0;
    for (double t : grid) {
      while (i < tl.samples.size() && tl.samples[i].t_s <= t) ++i;
      s.points.emplace_back(t, i ? get(tl.samples[i - 1].snap) : missing);
    }
    out.push_back(std::move(s));
  }
  return bands_across(out);
}

}  // namespace planetserve::experiment
