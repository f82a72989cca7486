// SPDX-License-Identifier: MIT
// Compiled body of workload_stats for sessions and prompts.
#pragma once

#include <planetserve/dispatch/session_policy.hpp>
#include <planetserve/hrtree/block_hasher.hpp>
#include <planetserve/workload/impl/dataset_stats.ipp>
#include <planetserve/workload/workload_stats.hpp>

#include <algorithm>

namespace planetserve::workload {
namespace detail {

/// Tokenizes and hashes prompts into block keys, reusing its buffers.
class prompt_blocks {
 public:
  prompt_blocks(const tokenize::tokenizer& tok, std::size_t block_tokens) : tok_(tok), hasher_(block_tokens) {}
  /// Tokens of `text`; keys() then holds its full blocks' keys.
  std::size_t encode(std::string_view text) {
    ids_.clear();
    tok_.encode(text, ids_);
    hasher_.keys(ids_, keys_);
    return ids_.size();
  }
  std::span<const std::uint64_t> keys() const noexcept { return keys_; }
  std::size_t count(std::string_view text) {
    ids_.clear();
    tok_.encode(text, ids_);
    return ids_.size();
  }

 private:
  const tokenize::tokenizer& tok_;
  hrtree::block_hasher hasher_;
  std::vector<tokenize::token_id> ids_;
  std::vector<hrtree::block_key> keys_;
};

}  // namespace detail

length_stats summarize_lengths(std::vector<std::size_t> values) {
  length_stats s;
  s.count = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  for (auto v : values) s.total += v;
  s.mean = static_cast<double>(s.total) / static_cast<double>(s.count);
  s.p50 = detail::nearest_rank(values, 0.5);
  s.p90 = detail::nearest_rank(values, 0.9);
  s.max = values.back();
  return s;
}

workload_stats_builder::workload_stats_builder(const reuse_config& config) : ceiling_(config) {}

void workload_stats_builder::add(std::span<const std::uint64_t> blocks, std::size_t input_tokens,
                                 std::size_t output_tokens, std::uint64_t affinity, std::optional<double> arrival_s) {
  ceiling_.add(blocks, input_tokens, affinity);
  in_.push_back(input_tokens);
  out_.push_back(output_tokens);
  if (arrival_s) {
    if (!first_) first_ = arrival_s;
    last_ = arrival_s;
  }
}

workload_stats workload_stats_builder::finish() const {
  workload_stats w;
  w.requests = in_.size();
  w.sessions = sessions_;
  w.input = summarize_lengths(in_);
  w.output = summarize_lengths(out_);
  if (first_ && last_ && *last_ > *first_) {
    w.span_s = *last_ - *first_;
    w.offered_rate = static_cast<double>(w.requests) / w.span_s;
  }
  w.reuse = ceiling_.result();
  return w;
}

workload_stats session_workload_stats(const session_dataset& d, const tokenize::tokenizer& tok,
                                      const reuse_config& config) {
  workload_stats_builder b(config);
  detail::prompt_blocks blocks(tok, config.block_tokens);
  for (const auto& s : d.sessions) {
    b.add_session();
    const std::uint64_t affinity = dispatch::session_key(s.id);
    for (std::size_t k = 0; k < s.turns.size(); ++k) {
      const std::size_t n = blocks.encode(message_text(turn_messages(s, k)));
      const std::size_t out = s.turns[k].assistant.empty() ? 0 : blocks.count(s.turns[k].assistant);
      b.add(blocks.keys(), n, out, affinity);
    }
  }
  return b.finish();
}

workload_stats trace_workload_stats(const trace& t, const reuse_config& config) {
  workload_stats_builder b(config);
  for (const auto& r : t.requests)
    b.add(r.hash_ids, r.input_length, r.output_length, r.hash_ids.empty() ? 0 : r.hash_ids.front(),
          r.timestamp_ms / 1000.0);
  return b.finish();
}

workload_stats prompt_workload_stats(const dataset& d, const tokenize::tokenizer& tok, const reuse_config& config) {
  workload_stats_builder b(config);
  detail::prompt_blocks blocks(tok, config.block_tokens);
  for (const auto& p : d.prompts) {
    const std::size_t n = blocks.encode(p.text);
    b.add(blocks.keys(), n, 0, blocks.keys().empty() ? 0 : blocks.keys().front());
  }
  return b.finish();
}

}  // namespace planetserve::workload
