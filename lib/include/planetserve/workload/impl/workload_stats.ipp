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

workload_stats session_workload_stats(const session_dataset& d, const tokenize::tokenizer& tok,
                                      const reuse_config& config) {
  reuse_ceiling ceiling(config);
  detail::prompt_blocks blocks(tok, config.block_tokens);
  std::vector<std::size_t> in, out;
  for (const auto& s : d.sessions) {
    const std::uint64_t affinity = dispatch::session_key(s.id);
    for (std::size_t k = 0; k < s.turns.size(); ++k) {
      const std::size_t n = blocks.encode(message_text(turn_messages(s, k)));
      ceiling.add(blocks.keys(), n, affinity);
      in.push_back(n);
      out.push_back(s.turns[k].assistant.empty() ? 0 : blocks.count(s.turns[k].assistant));
    }
  }
  workload_stats w;
  w.requests = in.size();
  w.sessions = d.sessions.size();
  w.input = summarize_lengths(std::move(in));
  w.output = summarize_lengths(std::move(out));
  w.reuse = ceiling.result();
  return w;
}

workload_stats prompt_workload_stats(const dataset& d, const tokenize::tokenizer& tok, const reuse_config& config) {
  reuse_ceiling ceiling(config);
  detail::prompt_blocks blocks(tok, config.block_tokens);
  std::vector<std::size_t> in;
  for (const auto& p : d.prompts) {
    const std::size_t n = blocks.encode(p.text);
    ceiling.add(blocks.keys(), n, blocks.keys().empty() ? 0 : blocks.keys().front());
    in.push_back(n);
  }
  workload_stats w;
  w.requests = in.size();
  w.input = summarize_lengths(std::move(in));
  w.output = summarize_lengths(std::vector<std::size_t>(w.requests, 0));
  w.reuse = ceiling.result();
  return w;
}

}  // namespace planetserve::workload
