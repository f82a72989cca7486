// SPDX-License-Identifier: MIT
// vllm_snapshot_builder bodies: which vLLM names feed which field, and the page-to-snapshot call.
#pragma once

#include <planetserve/prom/vllm_interval.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <istream>
#include <limits>

namespace planetserve::prom {

namespace detail {

inline std::optional<std::int64_t> label_int(std::string_view v) noexcept {
  std::int64_t out = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) return std::nullopt;
  return out;
}

}  // namespace detail

void vllm_snapshot_builder::on_sample(const sample_view& s) {
  std::string_view n = s.name;
  if (n.size() <= 5 || std::memcmp(n.data(), "vllm:", 5) != 0) return;
  ++s_.vllm_samples;
  // Buckets are most of a page and nothing here needs them.
  if (s.kind == sample_kind::bucket || s.kind == sample_kind::created ||
      s.kind == sample_kind::quantile)
    return;
  n.remove_prefix(5);
  if (n.ends_with("_created")) return;  // 0.0.4 pages write _created as gauge families
  if (!s_.v1_engine_label)
    for (const auto& l : s.labels)
      if (l.name == "engine") s_.v1_engine_label = true;
  const double v = s.value;
  // Exact sample names, so a page without TYPE lines (all untyped) reads the same.
  if (n == "time_to_first_token_seconds_sum") {
    s_.ttft_sum += v;
  } else if (n == "time_to_first_token_seconds_count") {
    s_.ttft_count += v;
  } else if (n == "inter_token_latency_seconds_sum" || n == "inter_token_latency_seconds_count") {
    twin& t = n.back() == 'm' ? tpot_sum_ : tpot_count_;
    t.current += v;
    t.has_current = true;
    s_.current_names = true;
  } else if (n == "time_per_output_token_seconds_sum" ||
             n == "time_per_output_token_seconds_count") {
    twin& t = n.back() == 'm' ? tpot_sum_ : tpot_count_;
    t.legacy += v;
    t.has_legacy = true;
  } else if (n == "e2e_request_latency_seconds_sum") {
    s_.e2e_sum += v;
  } else if (n == "e2e_request_latency_seconds_count") {
    s_.e2e_count += v;
  } else if (n == "num_requests_running") {
    s_.num_running += v;
  } else if (n == "num_requests_waiting") {
    s_.num_waiting += v;
  } else if (n == "prompt_tokens_total") {
    s_.prompt_tokens += v;
  } else if (n == "generation_tokens_total") {
    s_.generation_tokens += v;
  } else if (n == "request_success_total") {
    s_.request_success += v;
  } else if (n == "num_preemptions_total") {
    s_.num_preemptions += v;
  } else if (n == "kv_cache_usage_perc") {
    kv_sum_.current += v;
    kv_sum_.has_current = true;
    ++kv_series_current_;
    s_.current_names = true;
  } else if (n == "gpu_cache_usage_perc") {
    kv_sum_.legacy += v;
    kv_sum_.has_legacy = true;
    ++kv_series_legacy_;
    s_.legacy_names = true;
  } else if (n == "prefix_cache_queries_total") {
    prefix_queries_.current += v;
    prefix_queries_.has_current = true;
    s_.current_names = true;
  } else if (n == "prefix_cache_hits_total") {
    prefix_hits_.current += v;
    prefix_hits_.has_current = true;
    s_.current_names = true;
  } else if (n == "gpu_prefix_cache_queries_total") {
    prefix_queries_.legacy += v;
    prefix_queries_.has_legacy = true;
    s_.legacy_names = true;
  } else if (n == "gpu_prefix_cache_hits_total") {
    prefix_hits_.legacy += v;
    prefix_hits_.has_legacy = true;
    s_.legacy_names = true;
  } else if (n == "gpu_prefix_cache_hit_rate") {
    hit_rate_sum_ += v;
    ++hit_rate_series_;
    s_.legacy_names = true;
  } else if (n == "cache_config_info") {
    // Every engine reports its own; they agree, but keep the largest so order does not matter.
    if (auto b = detail::label_int(s.label_value("block_size")))
      s_.block_size = std::max(*b, s_.block_size.value_or(*b));
    if (auto g = detail::label_int(s.label_value("num_gpu_blocks")))
      s_.num_gpu_blocks = std::max(*g, s_.num_gpu_blocks.value_or(*g));
  }
}

vllm_snapshot vllm_snapshot_builder::snapshot() const {
  vllm_snapshot out = s_;
  if (kv_sum_.has_current) {
    out.kv_cache_usage = kv_sum_.current / static_cast<double>(kv_series_current_);
    out.engines = kv_series_current_;
  } else if (kv_sum_.has_legacy) {
    out.kv_cache_usage = kv_sum_.legacy / static_cast<double>(kv_series_legacy_);
    out.engines = kv_series_legacy_;
  }
  // A page without the prefix-cache series says nothing about them: NaN, not zero (a zero
  // between two real readings would look like a restart).
  constexpr double absent = std::numeric_limits<double>::quiet_NaN();
  const bool has_prefix = prefix_queries_.has_current || prefix_queries_.has_legacy;
  out.prefix_cache_queries = has_prefix ? prefix_queries_.pick() : absent;
  out.prefix_cache_hits = prefix_hits_.has_current || prefix_hits_.has_legacy ? prefix_hits_.pick() : absent;
  out.tpot_sum = tpot_sum_.pick();
  out.tpot_count = tpot_count_.pick();
  if (hit_rate_series_ > 0)
    out.legacy_prefix_cache_hit_rate = hit_rate_sum_ / static_cast<double>(hit_rate_series_);
  return out;
}

result<vllm_snapshot> parse_vllm_snapshot(std::string_view page, diagnostics* diag) {
  vllm_snapshot_builder builder;
  parser p(builder);
  p.feed(page);
  if (auto ec = p.finish()) {
    if (diag) *diag = p.diag();
    return ec;
  }
  return builder.snapshot();
}

result<vllm_snapshot> parse_vllm_snapshot(std::istream& in, diagnostics* diag) {
  vllm_snapshot_builder builder;
  parser p(builder);
  char buf[64 * 1024];
  while (in) {
    in.read(buf, sizeof buf);
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    if (auto ec = p.feed(std::string_view(buf, n))) {
      if (diag) *diag = p.diag();
      return ec;
    }
  }
  if (in.bad()) {
    if (diag) diag->message = "read error";
    return make_error_code(error::file_unreadable);
  }
  if (auto ec = p.finish()) {
    if (diag) *diag = p.diag();
    return ec;
  }
  return builder.snapshot();
}

namespace detail {

// Shortest round-trip digits; JSON has no NaN or infinity, so those become null.
inline void json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

}  // namespace detail

std::string to_json(const vllm_snapshot& s) {
  std::string out = "{";
  auto field = [&](const char* key, double v) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += key;
    out += "\":";
    detail::json_number(out, v);
  };
  constexpr double null = std::numeric_limits<double>::quiet_NaN();
  field("kv_cache_usage", s.kv_cache_usage);
  field("prefix_cache_queries", s.prefix_cache_queries);
  field("prefix_cache_hits", s.prefix_cache_hits);
  field("prefix_cache_hit_ratio", s.prefix_cache_hit_ratio());
  field("ttft_sum", s.ttft_sum);
  field("ttft_count", s.ttft_count);
  field("tpot_sum", s.tpot_sum);
  field("tpot_count", s.tpot_count);
  field("e2e_sum", s.e2e_sum);
  field("e2e_count", s.e2e_count);
  field("prompt_tokens", s.prompt_tokens);
  field("generation_tokens", s.generation_tokens);
  field("request_success", s.request_success);
  field("num_running", s.num_running);
  field("num_waiting", s.num_waiting);
  field("num_preemptions", s.num_preemptions);
  field("block_size", s.block_size ? static_cast<double>(*s.block_size) : null);
  field("num_gpu_blocks", s.num_gpu_blocks ? static_cast<double>(*s.num_gpu_blocks) : null);
  field("legacy_prefix_cache_hit_rate", s.legacy_prefix_cache_hit_rate.value_or(null));
  field("engines", static_cast<double>(s.engines));
  out += ",\"names\":\"";
  out += s.current_names ? (s.legacy_names ? "both" : "current") : (s.legacy_names ? "legacy" : "none");
  out += "\"}";
  return out;
}

namespace detail {

inline double counter_delta(double earlier, double later, bool& reset) noexcept {
  // A missing (NaN) reading says nothing, least of all that the server restarted.
  if (std::isnan(earlier) || std::isnan(later)) return std::numeric_limits<double>::quiet_NaN();
  if (later >= earlier) return later - earlier;
  reset = true;
  return later;
}

inline double ratio(double num, double den) noexcept {
  return den > 0 ? num / den : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace detail

vllm_interval difference(const vllm_snapshot& a, const vllm_snapshot& b,
                         std::chrono::duration<double> elapsed) {
  vllm_interval d;
  bool reset = false;
  auto delta = [&](double vllm_snapshot::*field) {
    return detail::counter_delta(a.*field, b.*field, reset);
  };
  d.elapsed = elapsed;
  d.prefix_cache_queries = delta(&vllm_snapshot::prefix_cache_queries);
  d.prefix_cache_hits = delta(&vllm_snapshot::prefix_cache_hits);
  d.prefix_cache_hit_ratio = detail::ratio(d.prefix_cache_hits, d.prefix_cache_queries);
  d.prompt_tokens = delta(&vllm_snapshot::prompt_tokens);
  d.generation_tokens = delta(&vllm_snapshot::generation_tokens);
  d.request_success = delta(&vllm_snapshot::request_success);
  d.num_preemptions = delta(&vllm_snapshot::num_preemptions);
  const double secs = elapsed.count();
  d.prompt_tokens_per_s = detail::ratio(d.prompt_tokens, secs);
  d.generation_tokens_per_s = detail::ratio(d.generation_tokens, secs);
  d.requests_per_s = detail::ratio(d.request_success, secs);
  d.ttft_count = delta(&vllm_snapshot::ttft_count);
  d.ttft_mean = detail::ratio(delta(&vllm_snapshot::ttft_sum), d.ttft_count);
  d.tpot_count = delta(&vllm_snapshot::tpot_count);
  d.tpot_mean = detail::ratio(delta(&vllm_snapshot::tpot_sum), d.tpot_count);
  d.e2e_count = delta(&vllm_snapshot::e2e_count);
  d.e2e_mean = detail::ratio(delta(&vllm_snapshot::e2e_sum), d.e2e_count);
  d.kv_cache_usage = b.kv_cache_usage;
  d.num_running = b.num_running;
  d.num_waiting = b.num_waiting;
  d.counter_reset = reset;
  return d;
}

}  // namespace planetserve::prom
