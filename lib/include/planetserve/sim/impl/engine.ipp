// SPDX-License-Identifier: MIT
// Compiled body of sim::engine.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/sim/engine.hpp>
#include <planetserve/sim/random.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace planetserve::sim {

struct engine::request {
  std::string id;
  std::vector<tokenize::token_id> tokens;  // prompt, then generated tokens
  std::size_t prompt_len = 0;
  std::size_t num_computed = 0;            // tokens whose KV is in the cache
  std::size_t target_outputs = 0;          // the request ends after this many tokens
  finish_reason target_reason = finish_reason::length;
  std::optional<std::size_t> max_tokens_param;
  std::size_t max_tokens = 0;
  std::size_t n = 1;
  std::uint64_t output_seed = 0;
  std::vector<block_hash> hashes;          // of the full blocks of `tokens`
  std::vector<block_id> blocks;
  std::size_t num_cached_blocks = 0;       // leading blocks already registered in the cache
  std::size_t cached_tokens = 0;           // prefix-cache hit at first scheduling
  bool scheduled_once = false;
  time_point arrival{}, first_scheduled{}, first_token{}, last_token{};

  std::size_t outputs() const noexcept { return tokens.size() - prompt_len; }
};

// One request's share of a step: its new tokens, and how many it had computed before.
struct engine::scheduled_entry {
  request* r;
  std::size_t num_new;
  std::size_t computed_before;
};

namespace detail {

inline std::string format_count(std::size_t v) { return std::to_string(v); }

inline std::size_t ceil_div(std::size_t a, std::size_t b) noexcept { return (a + b - 1) / b; }

}  // namespace detail

std::size_t cuda_graph_batch_size(std::size_t decode_seqs, std::size_t max_num_seqs) noexcept {
  const std::size_t max_graph = std::min<std::size_t>(max_num_seqs * 2, 512);
  std::size_t padded = decode_seqs;
  if (decode_seqs == 0 || decode_seqs <= 2) padded = decode_seqs;
  else if (decode_seqs <= 4) padded = 4;
  else if (decode_seqs <= 256) padded = detail::ceil_div(decode_seqs, 8) * 8;
  else padded = detail::ceil_div(decode_seqs, 16) * 16;
  // No captured size holds the batch: it runs eagerly, as it is.
  return padded <= max_graph ? padded : decode_seqs;
}

engine_config engine_config::from_profile(const profile& p) {
  engine_config c;
  c.block_size = p.block_size;
  c.num_gpu_blocks = p.num_gpu_blocks;
  c.max_num_seqs = p.max_num_seqs;
  c.max_num_batched_tokens = p.max_num_batched_tokens;
  c.max_model_len = p.max_model_len;
  c.cost = p.cost;
  return c;
}

boost::system::error_code engine::validate(const engine_config& c, diagnostics& diag) {
  auto fail = [&](std::string msg) {
    diag.message = std::move(msg);
    return make_error_code(error::invalid_argument);
  };
  if (c.block_size == 0) return fail("block_size must be > 0");
  if (c.num_gpu_blocks < 2) return fail("num_gpu_blocks must be >= 2 (vLLM keeps one null block)");
  if (c.max_num_seqs == 0) return fail("max_num_seqs must be > 0");
  if (c.max_num_batched_tokens == 0) return fail("max_num_batched_tokens must be > 0");
  if (c.max_model_len < 2) return fail("max_model_len must be >= 2");
  if (c.max_num_batched_tokens < c.max_num_seqs)
    return fail("max_num_batched_tokens (" + detail::format_count(c.max_num_batched_tokens) +
                ") must be greater than or equal to max_num_seqs (" + detail::format_count(c.max_num_seqs) + ")");
  if (!(c.step_jitter >= 0) || c.step_jitter > 1) return fail("step_jitter must be in [0, 1]");
  if (c.output_length.min == 0 || c.output_length.min > c.output_length.max)
    return fail("output length bounds must satisfy 1 <= min <= max");
  const std::size_t capacity = (c.num_gpu_blocks - 1) * c.block_size;
  if (!c.num_gpu_blocks_overridden && capacity < c.max_model_len)
    return fail("To serve at least one request with the model's max seq len (" +
                detail::format_count(c.max_model_len) + "), the KV cache needs " +
                detail::format_count(detail::ceil_div(c.max_model_len, c.block_size)) +
                " blocks, more than the " + detail::format_count(c.num_gpu_blocks - 1) +
                " available. Based on the available memory, the estimated maximum model length is " +
                detail::format_count(capacity) +
                ". Try increasing `gpu_memory_utilization` or decreasing `max_model_len`.");
  return {};
}

namespace detail {
inline const engine_config& checked(const engine_config& c) {
  diagnostics d;
  if (auto ec = engine::validate(c, d)) throw std::invalid_argument("sim::engine: " + d.message);
  return c;
}
}  // namespace detail

engine::engine(engine_config config)
    : config_(detail::checked(config)),
      cache_(config_.num_gpu_blocks, config_.block_size, config_.enable_prefix_caching),
      stats_(config_.max_model_len) {
  cache_.enable_events(config_.enable_kv_cache_events);
}

engine::~engine() = default;
engine::engine(engine&&) noexcept = default;
engine& engine::operator=(engine&&) noexcept = default;

std::size_t engine::sample_output_length(std::uint64_t seed) {
  const auto& o = config_.output_length;
  random r(mix_seed(seed, std::uint64_t{0x1e9}));
  double v = o.mean;
  switch (o.distribution) {
    case output_length_config::shape::fixed: break;
    case output_length_config::shape::uniform:
      v = static_cast<double>(o.min + r.below(o.max - o.min + 1));
      break;
    case output_length_config::shape::exponential: v = r.exponential(o.mean); break;
    case output_length_config::shape::lognormal: {
      const double mu = std::log(std::max(o.mean, 1.0)) - o.sigma * o.sigma / 2;
      v = std::exp(mu + o.sigma * r.normal());
      break;
    }
  }
  const double clamped = std::clamp(std::round(v), static_cast<double>(o.min), static_cast<double>(o.max));
  // clamp passes a NaN through (a NaN mean): casting it would be undefined.
  return planetserve::detail::checked_cast<std::size_t>(clamped).value_or(o.min);
}

boost::system::error_code engine::add_request(std::string id, std::vector<tokenize::token_id> prompt,
                                              const sampling_params& params, time_point now, diagnostics& diag) {
  auto bad = [&](std::string msg) {
    diag.message = std::move(msg);
    return make_error_code(error::bad_request);
  };
  if (requests_.count(id) != 0) {
    diag.message = "request id '" + id + "' is already in use";
    return make_error_code(error::invalid_argument);
  }
  const std::size_t prompt_len = prompt.size();
  const std::size_t max_len = config_.max_model_len;
  if (prompt_len == 0) return bad("The decoder prompt cannot be empty");
  if (params.max_tokens && *params.max_tokens == 0) return bad("max_tokens must be at least 1, got 0.");
  if (params.n == 0) return bad("n must be at least 1, got 0.");
  if (prompt_len >= max_len && !params.max_tokens)
    return bad("This model's maximum context length is " + detail::format_count(max_len) +
               " tokens. However, your request has " + detail::format_count(prompt_len) +
               " input tokens. Please reduce the length of the input messages.");
  const std::size_t max_tokens = params.max_tokens.value_or(max_len - prompt_len);
  if (prompt_len + max_tokens > max_len)
    return bad("This model's maximum context length is " + detail::format_count(max_len) +
               " tokens. However, you requested " + detail::format_count(prompt_len + max_tokens) + " tokens (" +
               detail::format_count(prompt_len) + " in the messages, " + detail::format_count(max_tokens) +
               " in the completion). Please reduce the length of the messages or completion.");
  if (params.min_tokens > max_tokens)
    return bad("min_tokens must be less than or equal to max_tokens=" + detail::format_count(max_tokens) +
               ", got " + detail::format_count(params.min_tokens) + ".");

  auto r = std::make_unique<request>();
  r->output_seed = params.seed ? mix_seed(*params.seed, std::uint64_t{0}) : mix_seed(config_.seed, id);
  if (params.ignore_eos) {
    r->target_outputs = max_tokens;
    r->target_reason = finish_reason::length;
  } else {
    const std::size_t natural = std::max(sample_output_length(r->output_seed), params.min_tokens);
    if (natural >= max_tokens) {
      r->target_outputs = max_tokens;
      r->target_reason = finish_reason::length;
    } else {
      r->target_outputs = natural;
      r->target_reason = finish_reason::stop;
    }
  }
  // The last generated token never enters the KV cache.
  const std::size_t peak_tokens = prompt_len + r->target_outputs - 1;
  const std::size_t usable_blocks = config_.num_gpu_blocks - 1;
  if (detail::ceil_div(peak_tokens, config_.block_size) > usable_blocks)
    return bad("The request needs " + detail::format_count(detail::ceil_div(peak_tokens, config_.block_size)) +
               " KV-cache blocks (" + detail::format_count(peak_tokens) + " tokens) but the cache has only " +
               detail::format_count(usable_blocks) + " blocks of " + detail::format_count(config_.block_size) +
               " tokens; it could never be scheduled. Reduce the prompt or max_tokens.");

  r->id = id;
  r->tokens = std::move(prompt);
  r->tokens.reserve(prompt_len + r->target_outputs);  // grown once, not as tokens are sampled
  r->prompt_len = prompt_len;
  r->max_tokens_param = params.max_tokens;
  r->max_tokens = max_tokens;
  r->n = params.n;
  r->arrival = now;
  // An idle engine starts its next step when work arrives, not when it last stopped.
  if (waiting_.empty() && running_.empty()) busy_until_ = std::max(busy_until_, now);
  waiting_.push_back(r.get());
  requests_.emplace(std::move(id), std::move(r));
  stalled_ = false;
  return {};
}

bool engine::abort(std::string_view id) {
  auto it = requests_.find(std::string(id));
  if (it == requests_.end()) return false;
  request* r = it->second.get();
  release(*r);
  if (auto w = std::find(waiting_.begin(), waiting_.end(), r); w != waiting_.end()) waiting_.erase(w);
  if (auto q = std::find(running_.begin(), running_.end(), r); q != running_.end()) running_.erase(q);
  requests_.erase(it);
  stalled_ = false;
  return true;
}

std::optional<time_point> engine::next_step_time() const noexcept {
  if ((waiting_.empty() && running_.empty()) || stalled_) return std::nullopt;
  return busy_until_;
}

bool engine::reset_prefix_cache() { return cache_.reset_prefix_cache(); }

void engine::release(request& r) {
  cache_.free(r.blocks);
  r.blocks.clear();
  r.num_cached_blocks = 0;
}

void engine::preempt(request& r) {
  release(r);
  r.num_computed = 0;
  ++stats_.preemptions;
  waiting_.push_front(&r);
}

void engine::cache_full_blocks(request& r, std::size_t num_tokens) {
  const std::size_t full = num_tokens / config_.block_size;
  if (full <= r.num_cached_blocks) return;
  extend_block_hashes(std::span<const tokenize::token_id>(r.tokens).first(std::min(num_tokens, r.tokens.size())),
                      config_.block_size, r.hashes);
  const bool events = cache_.events_enabled();
  kvevents::block_stored run;  // a run of newly cached blocks, as one BlockStored
  auto flush = [&] {
    if (run.block_hashes.empty()) return;
    run.block_size = static_cast<std::uint32_t>(config_.block_size);
    run.medium = "GPU";
    cache_.record(std::exchange(run, {}));
  };
  for (std::size_t i = r.num_cached_blocks; i < full && i < r.blocks.size() && i < r.hashes.size(); ++i) {
    const bool fresh = cache_.cache_block(r.blocks[i], r.hashes[i]);
    if (!events) continue;
    if (!fresh) {
      flush();
      continue;
    }
    if (run.block_hashes.empty() && i > 0) run.parent_block_hash = r.hashes[i - 1];
    run.block_hashes.push_back(r.hashes[i]);
    const auto first = r.tokens.begin() + static_cast<std::ptrdiff_t>(i * config_.block_size);
    run.token_ids.insert(run.token_ids.end(), first, first + static_cast<std::ptrdiff_t>(config_.block_size));
  }
  flush();
  r.num_cached_blocks = std::min(full, r.blocks.size());
}

bool engine::allocate_slots(request& r, std::size_t num_new) {
  const std::size_t total = r.num_computed + num_new;
  const std::size_t need = detail::ceil_div(total, config_.block_size);
  if (need > r.blocks.size()) {
    const std::size_t extra = need - r.blocks.size();
    if (extra > cache_.num_free_blocks()) return false;
    cache_.allocate(extra, r.blocks);
  }
  cache_full_blocks(r, total);
  return true;
}

step_result engine::step(time_point now) {
  step_result res;
  res.start = std::max(now, busy_until_);
  std::size_t budget = config_.max_num_batched_tokens;
  auto& scheduled = scheduled_;
  scheduled.clear();

  // Running requests first, in order; preempt from the back when blocks run out.
  for (std::size_t i = 0; i < running_.size() && budget > 0;) {
    request* r = running_[i];
    std::size_t num_new = r->tokens.size() - r->num_computed;
    num_new = std::min(num_new, budget);
    num_new = std::min(num_new, config_.max_model_len - 1 - std::min(r->num_computed, config_.max_model_len - 1));
    if (num_new == 0) {
      ++i;
      continue;
    }
    bool ok = true;
    while (!allocate_slots(*r, num_new)) {
      request* victim = running_.back();
      running_.pop_back();
      preempt(*victim);
      ++res.preempted;
      if (victim == r) {
        ok = false;
        break;
      }
    }
    if (!ok) break;
    scheduled.push_back({r, num_new, r->num_computed});
    budget -= num_new;
    ++i;
  }

  // Then waiting requests, unless this step had to preempt (vLLM V1 does the same).
  if (res.preempted == 0) {
    while (!waiting_.empty() && budget > 0 && running_.size() < config_.max_num_seqs) {
      request* r = waiting_.front();
      std::size_t hit_blocks = 0;
      if (cache_.prefix_caching()) {
        extend_block_hashes(r->tokens, config_.block_size, r->hashes);
        // At least the last token is recomputed, to produce logits.
        const std::size_t max_hit = (r->tokens.size() - 1) / config_.block_size;
        hit_blocks = cache_.longest_cache_hit(r->hashes, max_hit);
      }
      const std::size_t hit_tokens = hit_blocks * config_.block_size;
      // A preempted request's lookups go to vLLM's separate preempted_* counters, which the
      // hit-rate metrics exclude: only never-scheduled requests are counted.
      const bool count_lookup = cache_.prefix_caching() && !r->scheduled_once;
      auto record_lookup = [&] {
        stats_.prefix_cache_queries += r->tokens.size();
        stats_.prefix_cache_hits += hit_tokens;
      };
      // Before vLLM PR #48860 the lookup itself recorded the query, so a request that then
      // finds no free blocks is counted again at every step until it is admitted.
      if (count_lookup && config_.counting == prefix_cache_counting::per_lookup) record_lookup();
      const std::size_t num_new = std::min(r->tokens.size() - hit_tokens, budget);
      // Hit blocks nobody holds sit in the free queue: reviving them uses up free blocks.
      const std::size_t need_new = detail::ceil_div(hit_tokens + num_new, config_.block_size) - hit_blocks;
      if (need_new > cache_.num_free_blocks() - cache_.num_free_among(r->hashes, hit_blocks)) break;
      cache_.touch(r->hashes, hit_blocks, r->blocks);
      r->num_computed = hit_tokens;
      r->num_cached_blocks = hit_blocks;
      // Since PR #48860 (fixing #43736): recorded once, when the request is admitted.
      if (count_lookup && config_.counting == prefix_cache_counting::at_admission) record_lookup();
      allocate_slots(*r, num_new);
      if (!r->scheduled_once) {
        r->scheduled_once = true;
        r->first_scheduled = res.start;
        r->cached_tokens = hit_tokens;
      }
      waiting_.pop_front();
      running_.push_back(r);
      scheduled.push_back({r, num_new, hit_tokens});
      budget -= num_new;
    }
  }

  // Step time from the profile (the terms are explained in profile.hpp and impl/profile.ipp).
  const auto& c = config_.cost;
  double prefill_linear = 0, kv_read = 0, attention = 0;
  for (const auto& e : scheduled) {
    const request& r = *e.r;
    res.scheduled_tokens += e.num_new;
    const bool decode = e.num_new == 1 && r.outputs() > 0 && e.computed_before + 1 == r.tokens.size();
    if (decode) {
      ++res.decode_seqs;
      kv_read += c.per_decode_context_token_s * static_cast<double>(e.computed_before + 1);
    } else {
      res.prefill_tokens += e.num_new;
      const double n = static_cast<double>(e.num_new);
      const double before = static_cast<double>(e.computed_before);
      prefill_linear += c.per_prefill_token_s * n;
      attention += c.per_prefill_attention_pair_s * (n * before + n * (n + 1) / 2);
    }
  }
  // Only uniform decode batches replay a full CUDA graph; mixed steps run unpadded.
  res.padded_decode_seqs =
      res.prefill_tokens == 0 ? cuda_graph_batch_size(res.decode_seqs, config_.max_num_seqs) : res.decode_seqs;
  double seconds = 0;
  if (!scheduled.empty()) {
    const double padded = static_cast<double>(res.padded_decode_seqs);
    seconds = c.cpu_per_step_s + c.cpu_per_seq_s * static_cast<double>(scheduled.size()) +
              std::max(c.fixed_s, prefill_linear) + c.per_decode_seq_s * padded + kv_read + attention +
              c.allreduce_per_step_s + c.allreduce_per_token_s * (static_cast<double>(res.prefill_tokens) + padded);
    if (config_.step_jitter > 0) {
      // Mean-one lognormal noise, seeded by the engine seed and the step's index.
      const double s = config_.step_jitter;
      random r(mix_seed(config_.seed ^ std::uint64_t{0x5eed517e}, static_cast<std::uint64_t>(stats_.steps)));
      seconds *= std::exp(s * r.normal() - s * s / 2);
    }
  }
  res.scheduled_seqs = scheduled.size();
  res.end = res.start + std::chrono::duration_cast<time_point>(std::chrono::duration<double>(seconds));
  busy_until_ = res.end;
  if (scheduled.empty()) {
    stalled_ = true;
    return res;
  }
  ++stats_.steps;

  // Apply: requests whose known tokens are all computed sample one token.
  const double end_s = std::chrono::duration<double>(res.end).count();
  auto secs = [](time_point t) { return std::chrono::duration<double>(t).count(); };
  std::uint64_t iteration_prompt = 0, iteration_generated = 0;
  auto& finished = finished_;
  finished.clear();
  res.outputs.reserve(scheduled.size());
  for (const auto& e : scheduled) {
    request& r = *e.r;
    r.num_computed += e.num_new;
    if (r.num_computed < r.tokens.size()) continue;  // a prefill chunk that is not the last
    const std::size_t index = r.outputs();
    r.tokens.push_back(generator_.token(r.output_seed, index));
    request_output out;
    out.id = r.id;
    out.tokens.push_back(r.tokens.back());
    ++stats_.generation_tokens;
    ++iteration_generated;
    if (index == 0) {
      out.first_token = true;
      r.first_token = res.end;
      stats_.prompt_tokens += r.prompt_len;
      // vllm:prompt_tokens_by_source / _cached: the prefix-cache hit at first scheduling;
      // the emulator has no KV connector, so nothing arrives by transfer.
      stats_.prompt_tokens_local_cache_hit += r.cached_tokens;
      stats_.prompt_tokens_local_compute += r.prompt_len - r.cached_tokens;
      stats_.prompt_tokens_cached += r.cached_tokens;
      iteration_prompt += r.prompt_len;
      stats_.time_to_first_token.observe(end_s - secs(r.arrival));
      stats_.request_params_n.observe(static_cast<double>(r.n));
      stats_.request_max_num_generation_tokens.observe(static_cast<double>(r.max_tokens));
    } else {
      stats_.inter_token_latency.observe(end_s - secs(r.last_token));
    }
    r.last_token = res.end;
    const std::size_t outs = r.outputs();
    if (outs >= r.target_outputs) {
      out.finished = r.target_reason;
    } else if (r.tokens.size() >= config_.max_model_len) {
      out.finished = finish_reason::length;
    }
    out.usage = {r.prompt_len, outs, r.cached_tokens};
    if (out.finished) {
      ++stats_.request_success[static_cast<std::size_t>(*out.finished)];
      const double e2e = end_s - secs(r.arrival);
      const double ttft = secs(r.first_token) - secs(r.arrival);
      stats_.e2e_request_latency.observe(e2e);
      stats_.request_queue_time.observe(secs(r.first_scheduled) - secs(r.arrival));
      stats_.request_prefill_time.observe(secs(r.first_token) - secs(r.first_scheduled));
      stats_.request_decode_time.observe(secs(r.last_token) - secs(r.first_token));
      stats_.request_inference_time.observe(secs(r.last_token) - secs(r.first_scheduled));
      stats_.request_time_per_output_token.observe(outs > 1 ? (e2e - ttft) / static_cast<double>(outs - 1) : 0.0);
      stats_.request_prompt_tokens.observe(static_cast<double>(r.prompt_len));
      stats_.request_prefill_kv_computed_tokens.observe(static_cast<double>(r.prompt_len - r.cached_tokens));
      stats_.request_generation_tokens.observe(static_cast<double>(outs));
      if (r.max_tokens_param) stats_.request_params_max_tokens.observe(static_cast<double>(*r.max_tokens_param));
      finished.push_back(&r);
    }
    res.outputs.push_back(std::move(out));
  }
  stats_.iteration_tokens.observe(static_cast<double>(iteration_prompt + iteration_generated));

  for (request* r : finished) {
    release(*r);
    running_.erase(std::find(running_.begin(), running_.end(), r));
    requests_.erase(r->id);
  }
  return res;
}

}  // namespace planetserve::sim
