// SPDX-License-Identifier: MIT
// Compiled body of sim::write_metrics.
#pragma once

#include <planetserve/sim/engine.hpp>
#include <planetserve/sim/metrics_writer.hpp>
#include <planetserve/sim/python_float.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>
#include <utility>
#include <vector>

namespace planetserve::sim {

std::optional<metric_names> parse_metric_names(std::string_view s) noexcept {
  if (s == "v1") return metric_names::v1;
  if (s == "v0") return metric_names::v0;
  if (s == "both") return metric_names::both;
  return std::nullopt;
}

metrics_view view_of(const engine& e) {
  metrics_view v;
  v.stats = &e.stats();
  v.running = e.num_running();
  v.waiting = e.num_waiting();
  v.kv_cache_usage = e.kv_cache_usage();
  v.block_size = e.config().block_size;
  v.num_gpu_blocks = e.config().num_gpu_blocks;
  v.prefix_caching = e.config().enable_prefix_caching;
  return v;
}

namespace detail {

using label = std::pair<std::string, std::string>;
using labels = std::vector<label>;

inline void escape_help(std::string_view s, std::string& out) {
  if (s.find_first_of("\\\n") == std::string_view::npos) {
    out += s;
    return;
  }
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

inline void escape_label_value(std::string_view s, std::string& out) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"') out += "\\\"";
    else out += c;
  }
}

// A bucket bound as its `le` label: a few dozen distinct bounds, formatted on every scrape
// otherwise. Per thread: an embedding program may render pages on several threads.
inline const std::string& le_text(double bound) {
  thread_local std::unordered_map<double, std::string> cache;
  auto it = cache.find(bound);
  if (it == cache.end()) it = cache.emplace(bound, go_float_string(bound)).first;
  return it->second;
}

// go_float_string(v) appended to `out`. Counts and bucket totals are whole numbers below a
// million nearly always: Python writes those as "12.0", with no need for the general path.
inline void append_go_float(std::string& out, double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e6 && !(v == 0 && std::signbit(v))) {
    char buf[16];
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long>(v));
    out.append(buf, r.ptr);
    out += ".0";
    return;
  }
  out += go_float_string(v);
}

class page {
 public:
  page(const metrics_page_config& cfg, std::string& out) : cfg_(cfg), out_(out) {
    if (cfg.names != metric_names::v0) base_.push_back({"engine", cfg.engine_index});
    base_.push_back({"model_name", cfg.model_name});
    base_text_ = label_text();
  }

  void header(std::string_view name, std::string_view help, std::string_view type) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    escape_help(help, out_);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::string_view name, labels ls, double value) { line(name, "", sorted_text(std::move(ls)), value); }

  /// One sample line: `name` + `suffix`, the rendered labels (none if empty) and the value.
  void line(std::string_view name, std::string_view suffix, std::string_view label_text, double value) {
    out_ += name;
    out_ += suffix;
    if (!label_text.empty()) {
      out_ += '{';
      out_ += label_text;
      out_ += '}';
    }
    out_ += ' ';
    append_go_float(out_, value);
    out_ += '\n';
  }

  /// `ls` rendered as they appear between the braces, sorted by name.
  static std::string sorted_text(labels ls) {
    std::sort(ls.begin(), ls.end(), [](const label& a, const label& b) { return a.first < b.first; });
    std::string t;
    for (std::size_t i = 0; i < ls.size(); ++i) {
      if (i) t += ',';
      t += ls[i].first;
      t += "=\"";
      escape_label_value(ls[i].second, t);
      t += '"';
    }
    return t;
  }

  /// base_ plus `extra`, rendered.
  std::string label_text(labels extra = {}) const { return sorted_text(with(std::move(extra))); }

  labels with(labels extra) const {
    labels ls = base_;
    for (auto& e : extra) ls.push_back(std::move(e));
    return ls;
  }

  void gauge(std::string_view name, std::string_view help, double value) {
    header(name, help, "gauge");
    line(name, "", base_text_, value);
  }

  /// A counter with one child per label set in `children` (extra labels, value).
  void counter(std::string_view base, std::string_view help, const std::vector<std::pair<labels, double>>& children) {
    const std::string total = std::string(base) + "_total";
    header(total, help, "counter");
    std::vector<std::string> texts;
    texts.reserve(children.size());
    for (const auto& [extra, v] : children) {
      texts.push_back(label_text(extra));
      line(total, "", texts.back(), v);
    }
    created(base, help, children.size(), [&](std::size_t i) -> std::string_view { return texts[i]; });
  }

  void counter(std::string_view base, std::string_view help, double value) {
    counter(base, help, std::vector<std::pair<labels, double>>{{labels{}, value}});
  }

  void hist(std::string_view name, std::string_view help, const histogram& h) {
    header(name, help, "histogram");
    // The bucket lines differ only in `le` and the count: the label text around `le` is
    // rendered once (a page has hundreds of bucket lines, rendered on every scrape).
    const std::string marker = "\x01";
    const std::string around = label_text({{"le", marker}});
    const auto at = around.find(marker);
    const std::string_view before(around.data(), at), after(around.data() + at + marker.size(), around.size() - at - marker.size());
    double acc = 0;
    auto bucket_line = [&](std::string_view le, double count) {
      out_ += name;
      out_ += "_bucket{";
      out_ += before;
      out_ += le;
      out_ += after;
      out_ += "} ";
      append_go_float(out_, count);
      out_ += '\n';
    };
    for (std::size_t i = 0; i < h.bounds.size(); ++i) {
      acc += static_cast<double>(h.counts[i]);
      bucket_line(le_text(h.bounds[i]), acc);
    }
    acc += static_cast<double>(h.counts.back());
    bucket_line("+Inf", acc);
    line(name, "_count", base_text_, acc);
    line(name, "_sum", base_text_, h.sum);
    created(name, help, 1, [&](std::size_t) -> std::string_view { return base_text_; });
  }

  void info(std::string_view name, std::string_view help, labels ls) {
    header(name, help, "gauge");
    if (cfg_.names != metric_names::v0) ls.push_back({"engine", cfg_.engine_index});
    sample(name, std::move(ls), 1.0);
  }

  std::string& out() { return out_; }

 private:
  template <class LabelTextOf>
  void created(std::string_view base, std::string_view help, std::size_t n, LabelTextOf label_text_of) {
    if (!cfg_.created_series) return;
    const std::string name = std::string(base) + "_created";
    header(name, help, "gauge");
    for (std::size_t i = 0; i < n; ++i) line(name, "", label_text_of(i), cfg_.created_unix_s);
  }

  const metrics_page_config& cfg_;
  std::string& out_;
  labels base_;
  std::string base_text_;  // base_ rendered once: most lines carry exactly these labels
};

inline void write_process_families(page& p, double start_time) {
  // What prometheus_client's default registry adds to every vLLM page; values are plausible
  // constants for an idle Python process (they are not emulated).
  auto gen = [](const char* g) { return labels{{"generation", g}}; };
  p.header("python_gc_objects_collected_total", "Objects collected during gc", "counter");
  p.sample("python_gc_objects_collected_total", gen("0"), 12345.0);
  p.sample("python_gc_objects_collected_total", gen("1"), 2345.0);
  p.sample("python_gc_objects_collected_total", gen("2"), 345.0);
  p.header("python_gc_objects_uncollectable_total", "Uncollectable objects found during GC", "counter");
  for (const char* g : {"0", "1", "2"}) p.sample("python_gc_objects_uncollectable_total", gen(g), 0.0);
  p.header("python_gc_collections_total", "Number of times this generation was collected", "counter");
  p.sample("python_gc_collections_total", gen("0"), 1234.0);
  p.sample("python_gc_collections_total", gen("1"), 112.0);
  p.sample("python_gc_collections_total", gen("2"), 9.0);
  p.header("python_info", "Python platform information", "gauge");
  p.sample("python_info",
           {{"implementation", "CPython"}, {"major", "3"}, {"minor", "12"}, {"patchlevel", "11"}, {"version", "3.12.11"}},
           1.0);
  p.header("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
  p.sample("process_virtual_memory_bytes", {}, 1.2751286272e10);
  p.header("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
  p.sample("process_resident_memory_bytes", {}, 1.034346496e9);
  p.header("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge");
  p.sample("process_start_time_seconds", {}, start_time);
  p.header("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter");
  p.sample("process_cpu_seconds_total", {}, 42.17);
  p.header("process_open_fds", "Number of open file descriptors.", "gauge");
  p.sample("process_open_fds", {}, 57.0);
  p.header("process_max_fds", "Maximum number of open file descriptors.", "gauge");
  p.sample("process_max_fds", {}, 1048576.0);
}

inline std::string py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace detail

void write_metrics(const metrics_view& view, const metrics_page_config& cfg, std::string& out) {
  static const engine_stats empty_stats;
  const engine_stats& s = view.stats ? *view.stats : empty_stats;
  const bool v0 = cfg.names == metric_names::v0;
  const bool v1 = cfg.names == metric_names::v1;
  const bool both = cfg.names == metric_names::both;
  detail::page p(cfg, out);
  auto d = [](std::uint64_t v) { return static_cast<double>(v); };

  if (cfg.process_metrics) detail::write_process_families(p, cfg.created_unix_s);

  p.gauge("vllm:num_requests_running",
          v0 ? "Number of requests currently running on GPU." : "Number of requests in model execution batches.",
          d(view.running));
  p.gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", d(view.waiting));
  const metric_families& fam = cfg.families;
  if (fam.waiting_by_reason) {
    // Every waiting request waits for capacity: the emulator has no LoRA budget or KV
    // transfer to defer one.
    p.header("vllm:num_requests_waiting_by_reason",
             "Number of waiting requests by reason. Reason labels: 'capacity' = waiting for scheduling capacity; "
             "'deferred' = deferred by transient constraints (LoRA budget, KV transfer, blocked status). Sum of all "
             "reasons equals vllm:num_requests_waiting.",
             "gauge");
    p.line("vllm:num_requests_waiting_by_reason", "", p.label_text({{"reason", "capacity"}}), d(view.waiting));
    p.line("vllm:num_requests_waiting_by_reason", "", p.label_text({{"reason", "deferred"}}), 0.0);
  }

  if (v0 || both) {
    p.gauge("vllm:gpu_cache_usage_perc",
            both ? "GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead."
                 : "GPU KV-cache usage. 1 means 100 percent usage.",
            view.kv_cache_usage);
    if (v0) {
      const double rate = s.prefix_cache_queries == 0 ? 0.0 : d(s.prefix_cache_hits) / d(s.prefix_cache_queries);
      p.gauge("vllm:gpu_prefix_cache_hit_rate", "GPU prefix cache block hit rate.", rate);
    }
    p.counter("vllm:gpu_prefix_cache_queries",
              both ? "GPU prefix cache queries, in terms of number of queriedtokens. DEPRECATED: Use "
                     "vllm:prefix_cache_queries instead."
                   : "GPU prefix cache queries, in terms of number of queried tokens.",
              d(s.prefix_cache_queries));
    p.counter("vllm:gpu_prefix_cache_hits",
              both ? "GPU prefix cache hits, in terms of number of cached tokens. DEPRECATED: Use "
                     "vllm:prefix_cache_hits instead."
                   : "GPU prefix cache hits, in terms of number of cached tokens.",
              d(s.prefix_cache_hits));
  }
  if (v1 || both) {
    p.gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", view.kv_cache_usage);
    p.counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
              d(s.prefix_cache_queries));
    p.counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.",
              d(s.prefix_cache_hits));
  }

  p.counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", d(s.preemptions));
  p.counter("vllm:prompt_tokens", "Number of prefill tokens processed.", d(s.prompt_tokens));
  if (fam.prompt_tokens_by_source) {
    p.counter("vllm:prompt_tokens_by_source", "Number of prompt tokens by source.",
              {{{{"source", "local_compute"}}, d(s.prompt_tokens_local_compute)},
               {{{"source", "local_cache_hit"}}, d(s.prompt_tokens_local_cache_hit)},
               {{{"source", "external_kv_transfer"}}, 0.0}});
    p.counter("vllm:prompt_tokens_cached", "Number of cached prompt tokens (local + external).",
              d(s.prompt_tokens_cached));
  }
  p.counter("vllm:generation_tokens", "Number of generation tokens processed.", d(s.generation_tokens));
  {
    std::vector<std::pair<detail::labels, double>> children;
    const std::size_t reasons = fam.finish_reason_error_repetition ? 5 : 3;
    for (std::size_t i = 0; i < reasons; ++i)
      children.push_back({{{"finished_reason", to_string(static_cast<finish_reason>(i))}}, d(s.request_success[i])});
    p.counter("vllm:request_success", "Count of successfully processed requests.", children);
  }

  p.hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", s.request_prompt_tokens);
  p.hist("vllm:request_generation_tokens", "Number of generation tokens processed.", s.request_generation_tokens);
  p.hist("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", s.iteration_tokens);
  p.hist("vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens.",
         s.request_max_num_generation_tokens);
  p.hist("vllm:request_params_n", "Histogram of the n request parameter.", s.request_params_n);
  p.hist("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.",
         s.request_params_max_tokens);
  p.hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", s.time_to_first_token);
  if (v0 || both)
    p.hist("vllm:time_per_output_token_seconds",
           both ? "Histogram of time per output token in seconds.DEPRECATED: Use vllm:inter_token_latency_seconds "
                  "instead."
                : "Histogram of time per output token in seconds.",
           s.inter_token_latency);
  if (v1 || both)
    p.hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", s.inter_token_latency);
  if (v1)
    p.hist("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.",
           s.request_time_per_output_token);
  p.hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", s.e2e_request_latency);
  p.hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
         s.request_queue_time);
  p.hist("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.",
         s.request_inference_time);
  p.hist("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.",
         s.request_prefill_time);
  p.hist("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.",
         s.request_decode_time);
  if (fam.prefill_kv_computed)
    p.hist("vllm:request_prefill_kv_computed_tokens",
           "Histogram of new KV tokens computed during prefill (excluding cached tokens).",
           s.request_prefill_kv_computed_tokens);

  p.info("vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
         {{"block_size", std::to_string(view.block_size)},
          {"cache_dtype", "auto"},
          {"calculate_kv_scales", "False"},
          {"cpu_offload_gb", "0"},
          {"enable_prefix_caching", detail::py_bool(view.prefix_caching)},
          {"gpu_memory_utilization", python_repr(cfg.gpu_memory_utilization)},
          {"is_attention_free", "False"},
          {"num_cpu_blocks", "None"},
          {"num_gpu_blocks", std::to_string(view.num_gpu_blocks)},
          {"num_gpu_blocks_override",
           cfg.num_gpu_blocks_override ? std::to_string(*cfg.num_gpu_blocks_override) : std::string("None")},
          {"prefix_caching_hash_algo", "builtin"},
          {"sliding_window", "None"},
          {"swap_space", "4"},
          {"swap_space_bytes", "4294967296"}});
}

}  // namespace planetserve::sim
