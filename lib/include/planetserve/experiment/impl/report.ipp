// SPDX-License-Identifier: MIT
// Compiled body of the report writers and readers.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/run_charts.hpp>
#include <planetserve/experiment/stats.hpp>
#include <planetserve/openai/request_builder.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace planetserve::experiment {

namespace json = boost::json;

namespace {

/// A number, or null where it is missing (JSON has no NaN).
json::value num(double v) { return std::isfinite(v) ? json::value(v) : json::value(nullptr); }

double get_num(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return missing;
  if (auto* d = v->if_double()) return *d;
  if (auto* i = v->if_int64()) return static_cast<double>(*i);
  if (auto* u = v->if_uint64()) return static_cast<double>(*u);
  return missing;
}

std::string get_str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (v && v->is_string()) return std::string(v->get_string());
  return {};
}

json::array num_array(const std::vector<double>& v) {
  json::array a;
  a.reserve(v.size());
  for (double x : v) a.push_back(num(x));
  return a;
}

/// The snapshot fields timeline.json keeps, by name.
struct snap_field {
  const char* name;
  double prom::vllm_snapshot::*member;
};
constexpr snap_field snap_fields[] = {
    {"kv_cache_usage", &prom::vllm_snapshot::kv_cache_usage},
    {"prefix_cache_queries", &prom::vllm_snapshot::prefix_cache_queries},
    {"prefix_cache_hits", &prom::vllm_snapshot::prefix_cache_hits},
    {"ttft_sum", &prom::vllm_snapshot::ttft_sum},
    {"ttft_count", &prom::vllm_snapshot::ttft_count},
    {"tpot_sum", &prom::vllm_snapshot::tpot_sum},
    {"tpot_count", &prom::vllm_snapshot::tpot_count},
    {"e2e_sum", &prom::vllm_snapshot::e2e_sum},
    {"e2e_count", &prom::vllm_snapshot::e2e_count},
    {"prompt_tokens", &prom::vllm_snapshot::prompt_tokens},
    {"generation_tokens", &prom::vllm_snapshot::generation_tokens},
    {"request_success", &prom::vllm_snapshot::request_success},
    {"num_preemptions", &prom::vllm_snapshot::num_preemptions},
    {"num_running", &prom::vllm_snapshot::num_running},
    {"num_waiting", &prom::vllm_snapshot::num_waiting},
};

double cumulative_avg(double sum, double count) { return count > 0 ? sum / count : missing; }

std::string fmt(double v, const char* spec) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

}  // namespace

json::object result_object(const request_record& r, std::span<const node_timeline> timelines) {
  json::object o;
  // The seed's query_id is the server's response id; ours (the prompt's position) is
  // request_index. The seed writes "unknown" when the response has no id.
  o["query_id"] = r.response_id.empty() ? "unknown" : r.response_id;
  o["query_number"] = r.query_id + 1;
  o["request_index"] = r.query_id;
  o["epoch"] = r.epoch;
  const node_timeline* tl = r.node < timelines.size() ? &timelines[r.node] : nullptr;
  o["node_name"] = tl ? json::value(tl->name) : json::value(nullptr);
  o["node_url"] = tl ? json::value(tl->url) : json::value(nullptr);
  o["generation_time"] = std::isfinite(r.e2e_s()) ? r.e2e_s() : 0.0;
  o["absolute_start"] = std::isfinite(r.absolute_start) ? r.absolute_start : 0.0;

  // The seed's server-side view, as its monitor threads recorded it: [elapsed since the
  // request started, value] pairs, values as the seed reads them (cumulative ratios and
  // averages, 0.0 where undefined). Ours are the node's scrapes while the request ran,
  // led by the last scrape before it was sent (the seed's first sample is taken at the
  // start too), so that pair's elapsed is at most one scrape interval below zero.
  json::array usage, prefix, ttft, tpot;
  auto pair = [](double elapsed, double v) {
    json::array a;
    a.push_back(elapsed);
    a.push_back(std::isfinite(v) ? v : 0.0);
    return a;
  };
  if (tl && std::isfinite(r.sent_s)) {
    const double end = std::isfinite(r.finished_s) ? r.finished_s : r.sent_s;
    auto [b, e] = tl->between(r.sent_s, end);
    const node_sample* before = tl->at(r.sent_s);
    if (before && (b == e || before < b)) b = before;
    for (auto* p = b; p != e; ++p) {
      const double el = p->t_s - r.sent_s;
      usage.push_back(pair(el, p->snap.kv_cache_usage));
      prefix.push_back(pair(el, p->snap.prefix_cache_hit_ratio()));
      ttft.push_back(pair(el, cumulative_avg(p->snap.ttft_sum, p->snap.ttft_count)));
      tpot.push_back(pair(el, cumulative_avg(p->snap.tpot_sum, p->snap.tpot_count)));
    }
  }
  auto last_value = [](const json::array& a) { return a.empty() ? 0.0 : a.back().as_array()[1].as_double(); };
  o["final_kv_cache_usage"] = last_value(usage);
  o["final_prefix_cache_hit_rate"] = last_value(prefix);
  o["final_time_per_output_token"] = last_value(tpot);
  o["final_time_to_first_token"] = last_value(ttft);
  o["usage_records"] = std::move(usage);
  o["prefix_usage_records"] = std::move(prefix);
  o["time_per_output_token_records"] = std::move(tpot);
  o["time_to_first_token_records"] = std::move(ttft);

  o["scheduled_s"] = num(r.scheduled_s);
  o["sent_s"] = num(r.sent_s);
  o["first_token_s"] = num(r.first_token_s);
  o["finished_s"] = num(r.finished_s);
  o["send_lag_s"] = num(r.send_lag_s());
  o["ttft_s"] = num(r.ttft_s());
  o["tpot_s"] = num(r.tpot_s());
  o["e2e_s"] = num(r.e2e_s());
  o["itl_s"] = num_array(r.itl_s());
  o["prompt_tokens"] = r.prompt_tokens;
  o["completion_tokens"] = r.completion_tokens;
  o["cached_tokens"] = r.cached_tokens ? json::value(*r.cached_tokens) : json::value(nullptr);
  o["predicted_cached_tokens"] = r.predicted_cached_tokens ? json::value(*r.predicted_cached_tokens) : json::value(nullptr);
  o["finish_reason"] = r.finish_reason.empty() ? json::value(nullptr) : json::value(r.finish_reason);
  o["status"] = r.ok ? "ok" : "error";
  o["http_status"] = r.http_status;
  o["error"] = r.error.empty() ? json::value(nullptr) : json::value(r.error);
  o["retries"] = r.retries;
  o["node_out_reason"] = r.node_out_reason.empty() ? json::value(nullptr) : json::value(r.node_out_reason);
  json::object d;
  d["node"] = r.node == dispatch::no_node ? json::value(nullptr) : json::value(r.node);
  d["rule"] = r.rule;
  d["prompt_blocks"] = r.prompt_blocks;
  json::array m;
  for (auto x : r.match_blocks) m.push_back(x);
  d["match_blocks"] = std::move(m);
  d["load_scores"] = num_array(r.load_scores);
  o["decision"] = std::move(d);
  return o;
}

void write_experiment_results(std::span<const request_record* const> records, std::span<const node_timeline> timelines,
                              const std::function<void(std::string_view)>& write,
                              const std::function<void(const boost::json::object&, std::size_t)>& each) {
  // One request's object at a time: a document of every request at once would cost several
  // kilobytes per request at the end of a long run.
  write("[");
  json::serializer sr;
  char buf[16384];
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i) write(",");
    const json::value o = result_object(*records[i], timelines);
    if (each) each(o.get_object(), i);
    sr.reset(&o);
    while (!sr.done()) write(sr.read(buf));
  }
  write("]");
}

std::string experiment_results_json(std::span<const request_record* const> records,
                                    std::span<const node_timeline> timelines) {
  std::string out;
  write_experiment_results(records, timelines, [&](std::string_view piece) { out += piece; });
  return out;
}

std::string experiment_results_json(std::span<const request_record> records,
                                    std::span<const node_timeline> timelines) {
  std::vector<const request_record*> p;
  p.reserve(records.size());
  for (const auto& r : records) p.push_back(&r);
  return experiment_results_json(std::span<const request_record* const>(p), timelines);
}

std::string throughput_records_json(std::span<const node_timeline> timelines, double tick_s) {
  return json::serialize(throughput_records(timelines, tick_s));
}

boost::json::array throughput_records(std::span<const node_timeline> timelines, double tick_s) {
  double end = 0;
  for (const auto& tl : timelines)
    if (!tl.samples.empty()) end = std::max(end, tl.samples.back().t_s);
  // The first scrape of each node is the baseline: counters count since the run started.
  // Growth is accumulated scrape by scrape so that a server restarted mid-run (counters back
  // to 0, e.g. between epochs) adds its new counts instead of going negative.
  struct grown {
    double prompt = 0, gen = 0, success = 0;
  };
  std::vector<std::vector<grown>> growth(timelines.size());
  for (std::size_t k = 0; k < timelines.size(); ++k) {
    const auto& smp = timelines[k].samples;
    growth[k].resize(smp.size());
    auto step = [](double prev, double cur) { return cur >= prev ? cur - prev : cur; };
    for (std::size_t i = 1; i < smp.size(); ++i) {
      const auto &a = smp[i - 1].snap, &b = smp[i].snap;
      growth[k][i] = {growth[k][i - 1].prompt + step(a.prompt_tokens, b.prompt_tokens),
                      growth[k][i - 1].gen + step(a.generation_tokens, b.generation_tokens),
                      growth[k][i - 1].success + step(a.request_success, b.request_success)};
    }
  }
  json::array out;
  if (!(tick_s > 0)) tick_s = 1;
  if (!std::isfinite(end)) end = 0;
  // Rows are bounded by the scrapes the timeline holds (four rows per scrape of a node, at
  // least 10,000): a sparse timeline spanning years (a damaged timeline.json read back) is
  // written every `stride` ticks, the first row at zero and the last within `stride` ticks of
  // the end. A run's own timeline has a scrape per node per tick and is never strided.
  std::size_t samples = 0;
  for (const auto& tl : timelines) samples += tl.samples.size();
  const double rows = std::floor(end / tick_s) + 1;
  const double max_rows =
      std::max(10'000.0, 4.0 * static_cast<double>(samples) / static_cast<double>(std::max<std::size_t>(1, timelines.size())));
  const double stride = rows > max_rows ? std::ceil(rows / max_rows) : 1.0;
  // t = i * tick, not a running sum: the sum drifts (33.500000000000206 after 335 ticks).
  for (double i = 0;; i += stride) {
    const double t = i * tick_s;
    if (!(t <= end + 1e-9)) break;
    json::object row;
    double pt = 0, gt = 0, rs = 0;
    json::array nodes;
    for (std::size_t k = 0; k < timelines.size(); ++k) {
      const auto* s = timelines[k].at(t);
      json::object n;
      n["node_name"] = timelines[k].name;
      if (!s) {
        n["prompt_tokens"] = nullptr;
        nodes.push_back(std::move(n));
        continue;
      }
      const auto& gr = growth[k][static_cast<std::size_t>(s - timelines[k].samples.data())];
      const double p = gr.prompt;
      const double g = gr.gen;
      const double r = gr.success;
      pt += p;
      gt += g;
      rs += r;
      n["prompt_tokens"] = p;
      n["gen_tokens"] = g;
      n["request_success"] = r;
      n["kv_cache_usage"] = s->snap.kv_cache_usage;
      n["num_running"] = s->snap.num_running;
      n["num_waiting"] = s->snap.num_waiting;
      n["scraped_s"] = s->t_s;
      nodes.push_back(std::move(n));
    }
    row["elapsed"] = t;
    row["prompt_tokens"] = pt;
    row["gen_tokens"] = gt;
    row["request_success"] = rs;
    row["nodes"] = std::move(nodes);
    out.push_back(std::move(row));
  }
  return out;
}

std::string summary_json(const run_summary& s) {
  json::object o;
  o["policy"] = s.policy;
  o["dataset"] = s.dataset;
  o["average_interval_s"] = s.average_interval_s;
  o["epochs"] = s.epochs;
  o["requests"] = s.requests;
  o["ok"] = s.ok;
  o["failed"] = s.failed;
  o["interrupted"] = s.interrupted;
  o["clock"] = s.virtual_time ? "virtual" : "real";
  o["duration_s"] = num(s.duration_s);
  o["request_throughput"] = num(s.request_throughput);
  o["token_throughput"] = num(s.token_throughput);
  o["total_token_throughput"] = num(s.total_token_throughput);
  o["ttft_mean_s"] = num(s.ttft_mean_s);
  o["ttft_p50_s"] = num(s.ttft_p50_s);
  o["ttft_p99_s"] = num(s.ttft_p99_s);
  o["tpot_mean_s"] = num(s.tpot_mean_s);
  o["tpot_p99_s"] = num(s.tpot_p99_s);
  o["itl_mean_s"] = num(s.itl_mean_s);
  o["itl_p99_s"] = num(s.itl_p99_s);
  o["e2e_mean_s"] = num(s.e2e_mean_s);
  o["e2e_p50_s"] = num(s.e2e_p50_s);
  o["e2e_p99_s"] = num(s.e2e_p99_s);
  o["send_lag_mean_s"] = num(s.send_lag_mean_s);
  o["send_lag_p99_s"] = num(s.send_lag_p99_s);
  o["send_lag_max_s"] = num(s.send_lag_max_s);
  o["inter_arrival_mean_s"] = num(s.inter_arrival_mean_s);
  o["prompt_tokens_mean"] = num(s.prompt_tokens_mean);
  o["completion_tokens_mean"] = num(s.completion_tokens_mean);
  o["max_tokens_mean"] = num(s.max_tokens_mean);
  o["short_outputs"] = s.short_outputs;
  o["client_cached_ratio"] = num(s.client_cached_ratio);
  if (!s.turns.empty()) {
    json::array turns;
    for (const auto& tr : s.turns) {
      json::object t;
      t["turn"] = tr.turn;
      t["requests"] = tr.requests;
      t["ttft_mean_s"] = num(tr.ttft_mean_s);
      t["cached_ratio"] = num(tr.cached_ratio);
      turns.push_back(std::move(t));
    }
    o["turns"] = std::move(turns);
  }
  {
    // Predicted against reported cached tokens; the error and the table are null when no
    // request had both (a policy without a prefix model, or servers that do not report).
    const auto& c = s.prediction;
    json::object p;
    p["predicted"] = c.predicted;
    p["reported"] = c.reported;
    p["compared"] = c.compared;
    p["mae_tokens"] = num(c.mae_tokens);
    p["bias_tokens"] = num(c.bias_tokens);
    if (c.compared > 0) {
      json::object h;
      h["hit_hit"] = c.hit_hit;
      h["hit_miss"] = c.hit_miss;
      h["miss_hit"] = c.miss_hit;
      h["miss_miss"] = c.miss_miss;
      p["hit_table"] = std::move(h);
    } else {
      p["hit_table"] = nullptr;
    }
    o["cache_prediction"] = std::move(p);
  }
  o["prefix_hit_ratio"] = num(s.prefix_hit_ratio);
  o["kv_cache_usage_mean"] = num(s.kv_cache_usage_mean);
  o["server_ttft_mean_s"] = num(s.server_ttft_mean_s);
  o["server_tpot_mean_s"] = num(s.server_tpot_mean_s);
  if (s.goodput_bounds) {
    o["goodput_bounds"] = to_string(*s.goodput_bounds);
    o["good_requests"] = s.good_requests.value_or(0);
    o["goodput"] = num(s.goodput.value_or(missing));
  }
  if (s.seed.computed) {
    // The seed's summarize_results numbers, under its names, from the files as written.
    json::object sd;
    sd["avg_latency_s"] = num(s.seed.avg_latency_s);
    sd["p99_latency_s"] = num(s.seed.p99_latency_s);
    sd["tpot_s"] = num(s.seed.tpot_s);
    sd["ttft_s"] = num(s.seed.ttft_s);
    sd["avg_token_throughput"] = num(s.seed.token_throughput);
    sd["avg_request_throughput"] = num(s.seed.request_throughput);
    sd["avg_prefix_hit_rate"] = num(s.seed.prefix_hit_rate);
    sd["avg_inter_arrival_s"] = num(s.seed.inter_arrival_s);
    o["seed"] = std::move(sd);
  }
  json::object f;
  for (const auto& [kind, n] : s.failures) f[kind] = n;
  o["failures"] = std::move(f);
  o["retries"] = s.retries;
  o["retried_requests"] = s.retried_requests;
  o["not_sent"] = s.not_sent;
  json::array nodes;
  for (const auto& n : s.nodes) {
    json::object j;
    j["name"] = n.name;
    j["url"] = n.url;
    j["requests"] = n.requests;
    j["failed"] = n.failed;
    j["share"] = num(n.share);
    j["prefix_hit_ratio"] = num(n.prefix_hit_ratio);
    j["kv_cache_usage_mean"] = num(n.kv_cache_usage_mean);
    j["failed_scrapes"] = n.failed_scrapes;
    nodes.push_back(std::move(j));
  }
  o["nodes"] = std::move(nodes);
  return json::serialize(o);
}

std::string summary_text(const run_summary& s) {
  std::string t;
  auto line = [&](const std::string& label, const std::string& value, const char* side) {
    t += label;
    t.append(label.size() < 34 ? 34 - label.size() : 1, ' ');  // a longer label still ends with a space
    t += value;
    if (side) {
      if (value.size() < 16) t.append(16 - value.size(), ' ');
      t += "  [";
      t += side;
      t += "]";
    }
    t += '\n';
  };
  const char* client = "client-side";
  const char* server = "server-side /metrics";
  t += "===== pswm summary: " + s.dataset + ", policy " + s.policy + " =====\n";
  line("Requests (ok / failed)", std::to_string(s.ok) + " / " + std::to_string(s.failed), nullptr);
  if (s.interrupted) t += "Run was INTERRUPTED: numbers cover what finished.\n";
  if (s.virtual_time) t += "Clock: VIRTUAL (in-process emulated engines; every time is in simulated seconds)\n";
  // The seed's lines, computed as its summarize_results does from experiment_results.json
  // and throughput_records.json and printed in its format (a script that parses the seed's
  // summary reads these), each followed by where the number comes from.
  if (s.seed.computed) {
    auto seed_line = [&](const char* label, double v, const char* spec, const char* unit, const char* side) {
      std::string text = label;
      text += std::isnan(v) ? std::string("nan") : fmt(v, spec);  // Python prints NaN as nan
      text += unit;
      if (text.size() < 40) text.append(40 - text.size(), ' ');
      t += text + "  [" + side + "]\n";
    };
    const char* records = "server-side /metrics, mean over requests of their scrapes";
    const char* counters = "server-side /metrics counters";
    t += "-- the seed's summary (its definitions, read from experiment_results.json and throughput_records.json) --\n";
    t += "Mean Interval: " + fmt(s.average_interval_s, "%.3f") + "s\n";
    seed_line("Avg Latency: ", s.seed.avg_latency_s, "%.3f", "s", client);
    seed_line("P99 Latency: ", s.seed.p99_latency_s, "%.3f", "s", client);
    seed_line("TPOT: ", s.seed.tpot_s, "%.3f", "s", records);
    seed_line("TTFT: ", s.seed.ttft_s, "%.3f", "s", records);
    seed_line("Avg Token Throughput: ", s.seed.token_throughput, "%.2f", " tok/s", counters);
    seed_line("Avg Request Throughput: ", s.seed.request_throughput, "%.2f", " req/s", counters);
    seed_line("Avg Prefix Hit Rate: ", s.seed.prefix_hit_rate, "%.3f", "", records);
    seed_line("Avg Inter-arrival: ", s.seed.inter_arrival_s, "%.3f", "s", client);
  }
  t += "-- pswm --\n";
  line("Average latency (s)", fmt(s.e2e_mean_s, "%.4f"), client);
  line("P99 latency (s)", fmt(s.e2e_p99_s, "%.4f"), client);
  line("Average TPOT (s)", fmt(s.tpot_mean_s, "%.4f"), client);
  line("Average TTFT (s)", fmt(s.ttft_mean_s, "%.4f"), client);
  line("Output token throughput (tok/s)", fmt(s.token_throughput, "%.2f"), client);
  line("Total token throughput (tok/s)", fmt(s.total_token_throughput, "%.2f"), client);
  line("Request throughput (req/s)", fmt(s.request_throughput, "%.3f"), client);
  if (s.goodput_bounds)
    line("Goodput (req/s)",
         fmt(s.goodput.value_or(missing), "%.3f") + " (" + std::to_string(s.good_requests.value_or(0)) + " meet " +
             to_string(*s.goodput_bounds) + ")",
         client);
  line("Prefix cache hit ratio (run)", fmt(s.prefix_hit_ratio, "%.4f"), server);
  line("Average inter-arrival (s)", fmt(s.inter_arrival_mean_s, "%.4f"), client);
  line("TTFT p50 / p99 (s)", fmt(s.ttft_p50_s, "%.4f") + " / " + fmt(s.ttft_p99_s, "%.4f"), client);
  line("TPOT p99 (s)", fmt(s.tpot_p99_s, "%.4f"), client);
  line("ITL mean / p99 (s)", fmt(s.itl_mean_s, "%.4f") + " / " + fmt(s.itl_p99_s, "%.4f"), client);
  line("E2E p50 (s)", fmt(s.e2e_p50_s, "%.4f"), client);
  line("Send lag mean / p99 / max (ms)",
       fmt(s.send_lag_mean_s * 1e3, "%.3f") + " / " + fmt(s.send_lag_p99_s * 1e3, "%.3f") + " / " +
           fmt(s.send_lag_max_s * 1e3, "%.3f"),
       client);
  line("Prompt / completion tokens (mean)",
       fmt(s.prompt_tokens_mean, "%.1f") + " / " + fmt(s.completion_tokens_mean, "%.1f"), client);
  line("Output asked / produced (mean)",
       fmt(s.max_tokens_mean, "%.1f") + " / " + fmt(s.completion_tokens_mean, "%.1f") +
           (s.short_outputs ? " (" + std::to_string(s.short_outputs) + " short)" : std::string()),
       client);
  line("Cached prompt tokens (usage)", fmt(s.client_cached_ratio, "%.4f"), client);
  if (!s.turns.empty()) {
    // Multi-turn: turn 1 against the later turns, whose history may be cached.
    std::string ttft, hits;
    for (const auto& tr : s.turns) {
      if (tr.turn > 8) {
        ttft += " ...";
        hits += " ...";
        break;
      }
      ttft += (tr.turn > 1 ? " / " : "") + fmt(tr.ttft_mean_s, "%.4f");
      hits += (tr.turn > 1 ? " / " : "") + fmt(tr.cached_ratio, "%.3f");
    }
    line("TTFT mean by turn 1/2/.. (s)", ttft, client);
    line("Cached ratio by turn 1/2/..", hits, client);
  }
  if (s.ok > 0 && s.prediction.reported == 0) {
    t += "The servers reported no cached tokens (usage.prompt_tokens_details; vLLM sends it with "
         "--enable-prompt-tokens-details): predicted-vs-cached figures are left empty.\n";
  } else if (s.prediction.compared > 0) {
    const auto& c = s.prediction;
    line("Cached tokens pred: MAE / bias", fmt(c.mae_tokens, "%.1f") + " / " + fmt(c.bias_tokens, "%+.1f"),
         "policy vs usage");
    line("Hit pred/real hh/hm/mh/mm",
         std::to_string(c.hit_hit) + ", " + std::to_string(c.hit_miss) + ", " + std::to_string(c.miss_hit) + ", " +
             std::to_string(c.miss_miss),
         "policy vs usage");
  }
  line("Mean TTFT (s)", fmt(s.server_ttft_mean_s, "%.4f"), server);
  line("Mean per-token latency (s)", fmt(s.server_tpot_mean_s, "%.4f"), server);
  line("Mean KV-cache usage", fmt(s.kv_cache_usage_mean, "%.4f"), server);
  line("Duration (s)", fmt(s.duration_s, "%.2f"), client);
  for (const auto& [kind, n] : s.failures) line("Failures: " + kind, std::to_string(n), nullptr);
  if (s.retries > 0)
    line("Retried (requests / sends)", std::to_string(s.retried_requests) + " / " + std::to_string(s.retries), client);
  if (s.not_sent > 0) line("Never sent (no node / stopped)", std::to_string(s.not_sent), client);
  t += "-- per node --\n";
  const auto node_line = [&](const node_summary& n) {
    line(n.name + " (" + n.url + ")",
         std::to_string(n.requests) + " req, share " + fmt(n.share, "%.3f") + ", hit " +
             fmt(n.prefix_hit_ratio, "%.3f") + (n.failed ? ", failed " + std::to_string(n.failed) : "") +
             (n.failed_scrapes ? ", scrape gaps " + std::to_string(n.failed_scrapes) : ""),
         nullptr);
  };
  if (s.nodes.size() <= max_node_lines) {
    for (const auto& n : s.nodes) node_line(n);
    return t;
  }
  // A line per node is unreadable at a thousand nodes (summary.json keeps every one): the
  // spread across nodes, then the nodes that failed requests or missed scrapes.
  const auto spread = [&](double node_summary::*m, const char* spec) {
    std::vector<double> v;
    for (const auto& n : s.nodes)
      if (std::isfinite(n.*m)) v.push_back(n.*m);
    if (v.empty()) return std::string("n/a");
    std::sort(v.begin(), v.end());
    return fmt(v.front(), spec) + " / " + fmt(percentile_sorted(v, 50), spec) + " / " + fmt(v.back(), spec);
  };
  line("Nodes", std::to_string(s.nodes.size()) + " (each one in summary.json's \"nodes\")", nullptr);
  line("Node share min / median / max", spread(&node_summary::share, "%.5f"), nullptr);
  line("Node hit min / median / max",
       spread(&node_summary::prefix_hit_ratio, "%.3f"), server);
  std::size_t shown = 0, troubled = 0;
  for (const auto& n : s.nodes) {
    if (!n.failed && !n.failed_scrapes) continue;
    ++troubled;
    if (shown < max_node_lines) {
      node_line(n);
      ++shown;
    }
  }
  if (troubled > shown) line("More nodes with failures or scrape gaps", std::to_string(troubled - shown), nullptr);
  if (troubled == 0) line("Nodes with failures or scrape gaps", "none", nullptr);
  return t;
}

std::string comparison_text(std::span<const run_summary> runs) {
  struct row {
    const char* label;
    double run_summary::*member;
    const char* spec;
    const char* side;
  };
  static constexpr row rows[] = {
      {"prefix hit ratio", &run_summary::prefix_hit_ratio, "%.4f", "server"},
      {"TTFT mean (s)", &run_summary::ttft_mean_s, "%.4f", "client"},
      {"TTFT p50 (s)", &run_summary::ttft_p50_s, "%.4f", "client"},
      {"TTFT p99 (s)", &run_summary::ttft_p99_s, "%.4f", "client"},
      {"TPOT mean (s)", &run_summary::tpot_mean_s, "%.4f", "client"},
      {"E2E mean (s)", &run_summary::e2e_mean_s, "%.4f", "client"},
      {"E2E p99 (s)", &run_summary::e2e_p99_s, "%.4f", "client"},
      {"output token throughput (tok/s)", &run_summary::token_throughput, "%.1f", "client"},
      {"request throughput (req/s)", &run_summary::request_throughput, "%.3f", "client"},
      {"KV-cache usage mean", &run_summary::kv_cache_usage_mean, "%.4f", "server"},
      {"send lag p99 (ms)", &run_summary::send_lag_p99_s, "%.3f", "client"},
  };
  // A cell wider than its column still ends with a space: "(tok/s)74.6" would read as one word.
  auto pad = [](std::string s, std::size_t w) {
    s.append(s.size() < w ? w - s.size() : 1, ' ');
    return s;
  };
  std::string t = pad("metric", 30);
  for (const auto& r : runs) t += pad(r.policy, 14);
  t += "side\n";
  t += pad("requests ok/failed", 30);
  for (const auto& r : runs) t += pad(std::to_string(r.ok) + "/" + std::to_string(r.failed), 14);
  t += "client\n";
  // Goodput rows only when some run had bounds (a run without them shows "-").
  if (std::any_of(runs.begin(), runs.end(), [](const run_summary& r) { return r.goodput_bounds.has_value(); })) {
    t += pad("goodput (req/s)", 30);
    for (const auto& r : runs) t += pad(r.goodput ? fmt(*r.goodput, "%.3f") : std::string("-"), 14);
    t += "client\n";
    t += pad("good requests", 30);
    for (const auto& r : runs) t += pad(r.good_requests ? std::to_string(*r.good_requests) : std::string("-"), 14);
    t += "client\n";
  }
  for (const auto& row : rows) {
    t += pad(row.label, 30);
    for (const auto& r : runs) {
      double v = r.*(row.member);
      if (row.member == &run_summary::send_lag_p99_s) v *= 1e3;
      t += pad(fmt(v, row.spec), 14);
    }
    t += row.side;
    t += '\n';
  }
  // The policy's cache model against the servers' usage (n/a: no model, or not reported).
  t += pad("cached-token MAE (tok)", 30);
  for (const auto& r : runs) t += pad(fmt(r.prediction.mae_tokens, "%.1f"), 14);
  t += "policy vs usage\n";
  t += pad("cached-token bias (tok)", 30);
  for (const auto& r : runs) t += pad(fmt(r.prediction.bias_tokens, "%+.1f"), 14);
  t += "policy vs usage\n";
  t += pad("hit: pred/real hh/hm/mh/mm", 30);
  for (const auto& r : runs) {
    const auto& c = r.prediction;
    t += pad(c.compared == 0 ? std::string("n/a")
                             : std::to_string(c.hit_hit) + "/" + std::to_string(c.hit_miss) + "/" +
                                   std::to_string(c.miss_hit) + "/" + std::to_string(c.miss_miss),
             14);
  }
  t += "policy vs usage\n";
  return t;
}

std::string comparison_json(std::span<const run_summary> runs) {
  json::array a;
  for (const auto& r : runs) a.push_back(json::parse(summary_json(r)));
  json::object o;
  o["policies"] = std::move(a);
  return json::serialize(o);
}

namespace {

// requests.jsonl is appended once per request while requests are in flight, so its line is
// written by hand: building a json::object and serializing it cost ~4x more. Numbers are
// written so that a correctly rounding reader gets the same double; missing ones are null.
//
// Times are whole nanoseconds over 1e9 (std::chrono's conversion divides), about 25 of
// them per record. Such a value is written as its nanoseconds' decimal digits: the decimal
// is exactly n/1e9, and reading it gives the double nearest to n/1e9, which is the value
// (the division was correctly rounded; n < 2^53 converts exactly). A record line takes
// 1.3 us instead of 2.4 us this way; every other number takes std::to_chars' shortest form.
bool put_nanoseconds(std::string& out, double v) {
  if (std::signbit(v) || !(v < 9e6)) return false;  // 9e6 s = 9e15 ns < 2^53; -0 keeps its sign
  const auto n = static_cast<std::int64_t>(v * 1e9 + 0.5);
  if (static_cast<double>(n) / 1e9 != v) return false;
  char buf[32];
  char* p = std::to_chars(buf, buf + 20, n / 1'000'000'000).ptr;
  if (auto frac = static_cast<std::uint32_t>(n % 1'000'000'000)) {
    *p++ = '.';
    char digits[9];
    for (int i = 8; i >= 0; --i, frac /= 10) digits[i] = static_cast<char>('0' + frac % 10);
    int len = 9;
    while (digits[len - 1] == '0') --len;
    std::memcpy(p, digits, static_cast<std::size_t>(len));
    p += len;
  }
  out.append(buf, p);
  return true;
}

void put_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (put_nanoseconds(out, v)) return;
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

template <class Int>
void put_int(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void put_key(std::string& out, std::string_view key) {
  out += ",\"";
  out.append(key);
  out += "\":";
}

}  // namespace

std::string record_line(const request_record& r) {
  std::string o;
  o.reserve(440 + 24 * (r.chunk_s.size() + r.load_scores.size()) + 12 * r.match_blocks.size() + r.error.size() +
            r.finish_reason.size() + r.rule.size() + r.error_kind.size() + r.node_out_reason.size());
  o += "{\"query_id\":";
  put_int(o, r.query_id);
  put_key(o, "epoch");
  put_int(o, r.epoch);
  put_key(o, "node");
  if (r.node == dispatch::no_node) o += "null"; else put_int(o, r.node);
  put_key(o, "scheduled_s");
  put_number(o, r.scheduled_s);
  put_key(o, "sent_s");
  put_number(o, r.sent_s);
  put_key(o, "first_token_s");
  put_number(o, r.first_token_s);
  put_key(o, "finished_s");
  put_number(o, r.finished_s);
  put_key(o, "absolute_start");
  put_number(o, r.absolute_start);
  put_key(o, "chunk_s");
  o += '[';
  for (std::size_t i = 0; i < r.chunk_s.size(); ++i) {
    if (i) o += ',';
    put_number(o, r.chunk_s[i]);
  }
  o += ']';
  put_key(o, "prompt_tokens");
  put_int(o, r.prompt_tokens);
  put_key(o, "completion_tokens");
  put_int(o, r.completion_tokens);
  put_key(o, "cached_tokens");
  if (r.cached_tokens) put_int(o, *r.cached_tokens); else o += "null";
  put_key(o, "predicted_cached_tokens");
  if (r.predicted_cached_tokens) put_int(o, *r.predicted_cached_tokens); else o += "null";
  put_key(o, "usage_reported");
  o += r.usage_reported ? "true" : "false";
  put_key(o, "response_id");
  openai::append_json_string(o, r.response_id);
  if (!r.served_by.empty()) {
    put_key(o, "served_by");
    openai::append_json_string(o, r.served_by);
  }
  put_key(o, "finish_reason");
  openai::append_json_string(o, r.finish_reason);
  put_key(o, "ok");
  o += r.ok ? "true" : "false";
  put_key(o, "http_status");
  put_int(o, r.http_status);
  put_key(o, "error");
  openai::append_json_string(o, r.error);
  put_key(o, "error_kind");
  openai::append_json_string(o, r.error_kind);
  put_key(o, "retries");
  put_int(o, r.retries);
  if (r.turn > 0) {
    put_key(o, "session_id");
    openai::append_json_string(o, r.session_id);
    put_key(o, "turn");
    put_int(o, r.turn);
  }
  put_key(o, "node_out_reason");
  openai::append_json_string(o, r.node_out_reason);
  put_key(o, "rule");
  openai::append_json_string(o, r.rule);
  put_key(o, "prompt_blocks");
  put_int(o, r.prompt_blocks);
  put_key(o, "match_blocks");
  o += '[';
  for (std::size_t i = 0; i < r.match_blocks.size(); ++i) {
    if (i) o += ',';
    put_int(o, r.match_blocks[i]);
  }
  o += ']';
  put_key(o, "load_scores");
  o += '[';
  for (std::size_t i = 0; i < r.load_scores.size(); ++i) {
    if (i) o += ',';
    put_number(o, r.load_scores[i]);
  }
  o += ']';
  put_key(o, "dataset_line");
  put_int(o, r.dataset_line);
  put_key(o, "max_tokens");
  put_int(o, r.max_tokens);
  if (r.trace_input_length > 0) {
    put_key(o, "trace_input_length");
    put_int(o, r.trace_input_length);
    put_key(o, "trace_hash_ids");
    put_int(o, r.trace_hash_ids);
  }
  o += '}';
  return o;
}

result<request_record> parse_record_line(std::string_view line, diagnostics& diag) {
  boost::system::error_code ec;
  auto v = json::parse(line, ec);
  if (ec || !v.is_object()) {
    diag.message = "not a request record: " + (ec ? ec.message() : std::string("not an object"));
    return make_error_code(error::invalid_json);
  }
  const auto& o = v.get_object();
  request_record r;
  const double q = get_num(o, "query_id");
  if (!std::isfinite(q)) {
    diag.message = "request record without query_id";
    return make_error_code(error::missing_field);
  }
  // Casting a negative or out-of-range double to an integer type is undefined: refuse it.
  const double node = get_num(o, "node");
  const auto qid = planetserve::detail::checked_cast<std::size_t>(q);
  // A missing node (null) is no_node; no_node itself as a number is out of range.
  auto nid = std::isnan(node) ? std::optional(dispatch::no_node) : planetserve::detail::checked_cast<dispatch::node_index>(node);
  if (!std::isnan(node) && nid == dispatch::no_node) nid.reset();
  if (!qid || q > 1e15 || !nid) {
    diag.message = "request record: query_id or node out of range";
    return make_error_code(error::invalid_number);
  }
  r.query_id = *qid;
  const double epoch = get_num(o, "epoch");
  const auto ep = std::isnan(epoch) ? std::optional(std::size_t{0}) : planetserve::detail::checked_cast<std::size_t>(epoch);
  if (!ep || *ep > std::size_t{1'000'000'000'000'000}) {
    diag.message = "request record: epoch out of range";
    return make_error_code(error::invalid_number);
  }
  r.epoch = *ep;
  r.node = *nid;
  r.scheduled_s = get_num(o, "scheduled_s");
  r.sent_s = get_num(o, "sent_s");
  r.first_token_s = get_num(o, "first_token_s");
  r.finished_s = get_num(o, "finished_s");
  r.absolute_start = get_num(o, "absolute_start");
  if (auto* a = o.if_contains("chunk_s"); a && a->is_array())
    for (const auto& x : a->get_array()) r.chunk_s.push_back(x.is_number() ? x.to_number<double>() : missing);
  // A count past uint32's range (`"prompt_tokens": 1e20`) or below 0 would make the cast
  // undefined: the line is refused, naming the field. Missing (null) counts read as 0.
  std::string out_of_range;
  auto count = [&](std::string_view k) -> std::uint32_t {
    const double d = get_num(o, k);
    if (std::isnan(d)) return 0u;
    const auto c = planetserve::detail::checked_cast<std::uint32_t>(d);
    if (!c && out_of_range.empty()) out_of_range = planetserve::detail::out_of_range_message<std::uint32_t>(k, d);
    return c.value_or(0u);
  };
  r.prompt_tokens = count("prompt_tokens");
  r.completion_tokens = count("completion_tokens");
  // null (or absent) stays unreported: never read as 0.
  auto maybe_count = [&](std::string_view k) -> std::optional<std::uint32_t> {
    if (!std::isfinite(get_num(o, k))) return std::nullopt;
    return count(k);
  };
  r.cached_tokens = maybe_count("cached_tokens");
  r.predicted_cached_tokens = maybe_count("predicted_cached_tokens");
  if (auto* b = o.if_contains("usage_reported"); b && b->is_bool()) r.usage_reported = b->get_bool();
  if (auto* b = o.if_contains("ok"); b && b->is_bool()) r.ok = b->get_bool();
  const std::uint32_t status = count("http_status");
  if (status > 999 && out_of_range.empty())
    out_of_range = "http_status is " + std::to_string(status) + ", not an HTTP status (0 to 999)";
  r.http_status = static_cast<int>(std::min(status, 999u));
  r.finish_reason = get_str(o, "finish_reason");
  r.response_id = get_str(o, "response_id");
  r.served_by = get_str(o, "served_by");
  r.error = get_str(o, "error");
  r.error_kind = get_str(o, "error_kind");
  r.retries = count("retries");
  r.node_out_reason = get_str(o, "node_out_reason");
  r.session_id = get_str(o, "session_id");
  r.turn = count("turn");
  r.rule = get_str(o, "rule");
  r.prompt_blocks = count("prompt_blocks");
  if (!out_of_range.empty()) {
    diag.message = "request record: " + out_of_range;
    return make_error_code(error::invalid_number);
  }
  if (auto* a = o.if_contains("match_blocks"); a && a->is_array())
    for (const auto& x : a->get_array()) {
      // The throwing to_number<uint32_t>() would turn a bad line into an exception.
      boost::system::error_code nec;
      const auto m = x.is_number() ? x.to_number<std::uint32_t>(nec) : 0u;
      if (nec) {
        diag.message = "request record: match_blocks holds " + json::serialize(x) + ", not a block count";
        return make_error_code(error::invalid_number);
      }
      r.match_blocks.push_back(m);
    }
  if (auto* a = o.if_contains("load_scores"); a && a->is_array())
    for (const auto& x : a->get_array()) r.load_scores.push_back(x.is_number() ? x.to_number<double>() : missing);
  return r;
}

std::string timelines_json(std::span<const node_timeline> timelines) {
  json::array nodes;
  for (const auto& tl : timelines) {
    json::object n;
    n["name"] = tl.name;
    n["url"] = tl.url;
    n["failed_scrapes"] = tl.failed_scrapes;
    n["first_failure"] = tl.first_failure;
    json::array samples;
    samples.reserve(tl.samples.size());
    for (const auto& s : tl.samples) {
      json::object j;
      j["t_s"] = num(s.t_s);  // a NaN or inf time (read from a file) as null: Boost.JSON would write no JSON
      for (const auto& f : snap_fields) j[f.name] = num(s.snap.*(f.member));
      samples.push_back(std::move(j));
    }
    n["samples"] = std::move(samples);
    nodes.push_back(std::move(n));
  }
  json::object o;
  o["nodes"] = std::move(nodes);
  return json::serialize(o);
}

result<std::vector<node_timeline>> parse_timelines_json(std::string_view text, diagnostics& diag) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  const json::array* nodes = nullptr;
  if (!ec && v.is_object())
    if (auto* n = v.get_object().if_contains("nodes"); n && n->is_array()) nodes = &n->get_array();
  if (!nodes) {
    diag.message = "timeline.json: expected {\"nodes\": [...]}" + (ec ? ": " + ec.message() : std::string());
    return make_error_code(error::invalid_json);
  }
  std::vector<node_timeline> out;
  for (const auto& nv : *nodes) {
    if (!nv.is_object()) continue;
    const auto& n = nv.get_object();
    node_timeline tl;
    tl.name = get_str(n, "name");
    tl.url = get_str(n, "url");
    const double fs = get_num(n, "failed_scrapes");
    const auto failed = std::isnan(fs) ? std::size_t{0} : planetserve::detail::checked_cast<std::size_t>(fs);
    if (!failed) {
      diag.message = "timeline.json: node " + std::to_string(out.size()) + ": " +
                     planetserve::detail::out_of_range_message<std::size_t>("failed_scrapes", fs);
      return make_error_code(error::invalid_number);
    }
    tl.failed_scrapes = *failed;
    tl.first_failure = get_str(n, "first_failure");
    if (auto* a = n.if_contains("samples"); a && a->is_array()) {
      for (const auto& sv : a->get_array()) {
        if (!sv.is_object()) continue;
        node_sample s;
        s.t_s = get_num(sv.get_object(), "t_s");
        for (const auto& f : snap_fields) {
          // null (a NaN or missing reading) stays NaN: summarize skips it rather than read 0.
          s.snap.*(f.member) = get_num(sv.get_object(), f.name);
        }
        tl.samples.push_back(s);
      }
    }
    out.push_back(std::move(tl));
  }
  return out;
}

result<std::vector<node_timeline>> parse_metrics_timeline_jsonl(std::string_view text,
                                                                std::span<const std::string> urls,
                                                                std::size_t& bad_lines, diagnostics& diag) {
  std::vector<node_timeline> out;
  bad_lines = 0;
  for (std::size_t at = 0; at < text.size();) {
    const auto nl = text.find('\n', at);
    const auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto v = json::parse(json::string_view(line.data(), line.size()), ec);
    const std::string name = !ec && v.is_object() ? get_str(v.get_object(), "node") : std::string();
    // "node_K": the runner's names, K its position among the endpoints.
    std::size_t k = 0;
    const bool named = name.starts_with("node_") &&
                       std::from_chars(name.data() + 5, name.data() + name.size(), k).ec == std::errc() && k < 4096;
    if (!named) {
      ++bad_lines;
      continue;
    }
    if (out.size() <= k) out.resize(k + 1);
    auto& tl = out[k];
    const auto& o = v.get_object();
    if (auto* snap = o.if_contains("snapshot"); snap && snap->is_object()) {
      node_sample smp;
      smp.t_s = get_num(o, "t_s");
      for (const auto& f : snap_fields) smp.snap.*(f.member) = get_num(snap->get_object(), f.name);
      tl.samples.push_back(smp);
    } else {
      ++tl.failed_scrapes;
      if (tl.first_failure.empty()) tl.first_failure = get_str(o, "error");
    }
  }
  for (std::size_t k = 0; k < out.size(); ++k) {
    out[k].name = "node_" + std::to_string(k);
    if (k < urls.size()) out[k].url = urls[k];
    std::stable_sort(out[k].samples.begin(), out[k].samples.end(),
                     [](const node_sample& a, const node_sample& b) { return a.t_s < b.t_s; });
  }
  if (out.empty() && bad_lines > 0) {
    diag.message = "metrics_timeline.jsonl: no readable line";
    return make_error_code(error::invalid_json);
  }
  return out;
}

}  // namespace planetserve::experiment
