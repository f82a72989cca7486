// SPDX-License-Identifier: MIT
// Policies at a thousand nodes: the shared index and sparse bookkeeping decide as visiting every node does.
#include <planetserve/dispatch/cache_aware_policy.hpp>
#include <planetserve/dispatch/detail/rng.hpp>
#include <planetserve/dispatch/hrt_policy.hpp>
#include <planetserve/dispatch/lb_policy.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

namespace d = planetserve::dispatch;
namespace hrtree = planetserve::hrtree;
using planetserve::tokenize::token_id;

std::uint64_t next_random(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// lb as it was written before the shared index: every node probed on its own
/// (tree::match(s, keys)), every node's BF computed, every queue drained, per decision.
struct probing_lb {
  d::policy_config c;
  std::vector<double> ema, queued;

  struct choice {
    d::node_index node = d::no_node;
    d::rule fired = d::rule::none_available;
    std::vector<std::uint32_t> depth;
    std::vector<double> bf;
    bool cut_mattered = false;  // a matching node was left out for its BF
  };

  explicit probing_lb(const d::lb_policy& p) : c(p.config()), ema(c.nodes), queued(c.nodes, 0.0) { restart(p); }

  /// After the policy's reset: the same drawn latencies, empty queues.
  void restart(const d::lb_policy& p) {
    for (std::size_t i = 0; i < c.nodes; ++i) ema[i] = p.latency(static_cast<d::node_index>(i));
    std::fill(queued.begin(), queued.end(), 0.0);
  }

  double busy_factor(std::size_t i) const {
    return ema[i] * std::ceil(queued[i] / static_cast<double>(c.lb.batch_size_tokens));
  }

  choice choose(const d::lb_policy& p, const std::vector<hrtree::block_key>& keys, std::size_t tokens) const {
    choice r;
    const std::size_t n = c.nodes;
    const auto st = p.stats();
    r.depth.resize(n);
    r.bf.resize(n);
    for (std::size_t i = 0; i < n; ++i) r.depth[i] = p.prefixes()->match(static_cast<hrtree::tree::server>(i), keys);
    const auto prompt_blocks = static_cast<double>(tokens / c.tree.chunk_tokens);
    const double min_blocks = std::max(1.0, c.lb.min_match_ratio * prompt_blocks);
    std::vector<double> sorted;
    std::vector<d::node_index> matching;
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      r.bf[i] = busy_factor(i);
      if (!st[i].available) continue;
      any = true;
      sorted.push_back(r.bf[i]);
      if (static_cast<double>(r.depth[i]) >= min_blocks) matching.push_back(static_cast<d::node_index>(i));
    }
    if (!any) return r;
    auto better = [&](d::node_index a, d::node_index b) {
      if (r.depth[a] != r.depth[b]) return r.depth[a] > r.depth[b];
      if (r.bf[a] != r.bf[b]) return r.bf[a] < r.bf[b];
      return st[a].dispatched < st[b].dispatched;
    };
    if (!matching.empty()) {
      std::sort(sorted.begin(), sorted.end());
      const double pos = c.lb.eligible_percentile / 100.0 * static_cast<double>(sorted.size() - 1);
      const auto lo = static_cast<std::size_t>(std::floor(pos));
      double cut = sorted[lo];
      if (lo + 1 < sorted.size()) cut = sorted[lo] + (sorted[lo + 1] - sorted[lo]) * (pos - static_cast<double>(lo));
      d::node_index best = d::no_node;
      for (const auto i : matching) {
        r.cut_mattered |= r.bf[i] > cut;
        if (r.bf[i] <= cut && (best == d::no_node || better(i, best))) best = i;
      }
      if (best != d::no_node) {
        r.node = best;
        r.fired = d::rule::best_match;
        return r;
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!st[i].available) continue;
      const auto x = static_cast<d::node_index>(i);
      if (r.node == d::no_node || r.bf[x] < r.bf[r.node] ||
          (r.bf[x] == r.bf[r.node] && st[x].dispatched < st[r.node].dispatched))
        r.node = x;
    }
    r.fired = d::rule::lowest_busy;
    return r;
  }

  void dispatched(d::node_index node, std::size_t tokens) {
    queued[node] += static_cast<double>(tokens);
    for (auto& q : queued) q = std::max(0.0, q - static_cast<double>(c.lb.service_tokens_per_step));
  }

  void finished(d::node_index node, bool ok, std::chrono::nanoseconds e2e) {
    if (!ok) return;
    ema[node] = (1 - c.lb.ema_weight) * ema[node] + c.lb.ema_weight * std::chrono::duration<double>(e2e).count();
  }
};

struct random_run {
  std::size_t nodes;
  std::size_t decisions;
  std::size_t drain;         // lb.service_tokens_per_step
  double min_match_ratio;
  std::size_t capacity;      // per node, blocks: small, so that evictions happen
  std::uint64_t seed;
};

void compare_on_random_workload(const random_run& run) {
  d::policy_config c;
  c.nodes = run.nodes;
  c.seed = run.seed;
  c.tree.capacity_blocks = run.capacity;
  c.lb.service_tokens_per_step = run.drain;
  c.lb.batch_size_tokens = 512;
  c.lb.min_match_ratio = run.min_match_ratio;
  d::lb_policy p(c);
  probing_lb ref(p);
  std::uint64_t s = run.seed;

  // Shared prefixes of 0 to 40 blocks, some a prefix of another; each prompt one of them
  // plus a random tail (often not a whole block), or a repeat of an earlier prompt.
  std::vector<std::vector<token_id>> prefixes(60);
  for (std::size_t k = 0; k < prefixes.size(); ++k) {
    if (k > 0 && next_random(s) % 4 == 0) prefixes[k] = prefixes[next_random(s) % k];
    const std::size_t extra = (next_random(s) % 20) * 16;
    for (std::size_t i = 0; i < extra; ++i) prefixes[k].push_back(static_cast<token_id>(next_random(s) % 50'000));
  }
  std::vector<std::vector<token_id>> sent;
  struct open_request {
    d::node_index node;
    std::chrono::nanoseconds e2e;
  };
  std::vector<open_request> open;
  std::vector<hrtree::block_key> keys;
  std::size_t best_match = 0, lowest_busy = 0, cut_mattered = 0;

  for (std::size_t step = 0; step < run.decisions; ++step) {
    std::vector<token_id> tokens;
    if (!sent.empty() && next_random(s) % 8 == 0) {
      tokens = sent[next_random(s) % sent.size()];
    } else {
      // Skewed toward the first prefixes, as real prompts are.
      const std::size_t k = next_random(s) % (1 + next_random(s) % prefixes.size());
      tokens = prefixes[k];
      const std::size_t tail = next_random(s) % 1500;
      for (std::size_t i = 0; i < tail; ++i) tokens.push_back(static_cast<token_id>(next_random(s) % 50'000));
    }
    sent.push_back(tokens);
    const d::request_view req{tokens};
    p.prefixes()->hasher().keys(tokens, keys);
    const auto want = ref.choose(p, keys, tokens.size());
    const auto got = p.choose(req);
    INFO("step " << step);
    REQUIRE(got.node == want.node);
    REQUIRE(got.fired == want.fired);
    REQUIRE(std::equal(got.match_blocks.begin(), got.match_blocks.end(), want.depth.begin(), want.depth.end()));
    // With no node available no policy code runs: the scores are the last decision's.
    if (got) REQUIRE(std::equal(got.load_score.begin(), got.load_score.end(), want.bf.begin(), want.bf.end()));
    best_match += got.fired == d::rule::best_match;
    lowest_busy += got.fired == d::rule::lowest_busy;
    cut_mattered += want.cut_mattered;

    if (got) {
      // Now and then the caller sends elsewhere than the choice (a retry, a pinned request).
      const d::node_index to = next_random(s) % 16 == 0 ? static_cast<d::node_index>(next_random(s) % run.nodes) : got.node;
      p.on_dispatched(to, req);
      ref.dispatched(to, tokens.size());
      open.push_back({to, std::chrono::milliseconds(20 + next_random(s) % 400)});
    }
    // Some requests end, in any order; a few fail.
    while (!open.empty() && next_random(s) % 3 != 0) {
      const std::size_t k = next_random(s) % open.size();
      const bool ok = next_random(s) % 10 != 0;
      d::outcome result;
      result.ok = ok;
      result.e2e = open[k].e2e;
      p.on_finished(open[k].node, result);
      ref.finished(open[k].node, ok, open[k].e2e);
      open[k] = open.back();
      open.pop_back();
    }
    // Nodes leave and come back; now and then every node is down.
    if (next_random(s) % 4 == 0) {
      const auto node = static_cast<d::node_index>(next_random(s) % run.nodes);
      p.set_available(node, !p.stats(node).available);
    }
    if (step % 997 == 500)
      for (std::size_t i = 0; i < run.nodes; ++i) p.set_available(static_cast<d::node_index>(i), false);
    if (step % 997 == 501)
      for (std::size_t i = 0; i < run.nodes; ++i) p.set_available(static_cast<d::node_index>(i), true);
    if (step % 1500 == 1499) {
      p.reset();
      ref.restart(p);
      open.clear();
    }
  }
  // The workload reached every branch: matches, fallbacks, and matching nodes too busy.
  CHECK(best_match > run.decisions / 10);
  CHECK(lowest_busy > run.decisions / 20);
  // With the seed's drain nearly every queue is empty and every BF 0: the cut never bites.
  if (run.drain < 2048) CHECK(cut_mattered > run.decisions / 100);
}

}  // namespace

TEST_CASE("dispatch lb at 1,000+ nodes: the shared index decides as probing every node does", "[dispatch][scale]") {
  // Drain as the seed (most queues empty), slow (a third to half of the queues full, so the
  // percentile falls among them), and none (every node that served stays busy); the seed's
  // any-match rule and pswm's half-the-prompt rule.
  const random_run run = GENERATE(random_run{1'024, 3'000, 2048, 0.5, 256, 1},
                                  random_run{1'100, 3'000, 2, 0.0, 96, 2},
                                  random_run{1'000, 2'000, 0, 0.5, 4'096, 3});
  compare_on_random_workload(run);
}

TEST_CASE("dispatch cache-aware at 1,000 nodes: visiting the prompt's holders picks as visiting every node", "[dispatch][scale]") {
  d::policy_config c;
  c.nodes = 1'000;
  c.tree.capacity_blocks = 128;
  d::cache_aware_policy p(c);
  std::uint64_t s = 7;
  std::vector<std::vector<token_id>> prefixes(30);
  for (auto& v : prefixes)
    for (std::size_t i = 0; i < 16 * (1 + next_random(s) % 12); ++i) v.push_back(static_cast<token_id>(next_random(s) % 50'000));
  std::size_t hits = 0, rooms = 0;
  for (std::size_t step = 0; step < 3'000; ++step) {
    std::vector<token_id> tokens = prefixes[next_random(s) % prefixes.size()];
    for (std::size_t i = next_random(s) % 200; i > 0; --i) tokens.push_back(static_cast<token_id>(next_random(s) % 50'000));
    const d::request_view req{tokens};
    const auto got = p.choose(req);
    if (!got) continue;
    // The rule as written for every node: best match, ties by fewer in flight, lower index.
    if (got.fired != d::rule::load_imbalance) {
      d::node_index best = d::no_node;
      for (d::node_index x = 0; x < c.nodes; ++x) {
        if (!p.stats(x).available) continue;
        if (best == d::no_node || got.match_blocks[x] > got.match_blocks[best] ||
            (got.match_blocks[x] == got.match_blocks[best] && got.load_score[x] < got.load_score[best]))
          best = x;
      }
      const double ratio = got.prompt_blocks == 0 ? 0.0 : double(got.match_blocks[best]) / got.prompt_blocks;
      INFO("step " << step);
      REQUIRE((got.fired == d::rule::cache_hit) == (ratio > c.cache_aware.cache_threshold));
      if (got.fired == d::rule::cache_hit) REQUIRE(got.node == best);
      hits += got.fired == d::rule::cache_hit;
      rooms += got.fired == d::rule::smallest_cache;
    }
    p.on_dispatched(got.node, req);
    if (next_random(s) % 2 == 0) p.on_finished(static_cast<d::node_index>(next_random(s) % c.nodes), {});
    if (next_random(s) % 4 == 0) {
      const auto node = static_cast<d::node_index>(next_random(s) % c.nodes);
      p.set_available(node, !p.stats(node).available);
    }
  }
  CHECK(hits > 100);
  CHECK(rooms > 300);
}

TEST_CASE("dispatch hrt at 1,000 nodes: decisions and random tie draws equal the every-node rule (a guard for a sparser hrt)", "[dispatch][scale]") {
  d::policy_config c;
  c.nodes = 1'000;
  c.seed = 11;
  c.tree.capacity_blocks = 256;
  d::hrt_policy p(c);
  d::detail::rng ref_rng(c.seed);  // the policy's own draws, replayed by the rule as written
  std::uint64_t s = 5;
  std::vector<std::vector<token_id>> prefixes(40);
  for (auto& v : prefixes)
    for (std::size_t i = 0; i < 16 * (1 + next_random(s) % 10); ++i) v.push_back(static_cast<token_id>(next_random(s) % 50'000));
  std::vector<d::node_index> open;
  std::size_t by_rule[3] = {0, 0, 0};
  for (std::size_t step = 0; step < 4'000; ++step) {
    std::vector<token_id> tokens = prefixes[next_random(s) % prefixes.size()];
    for (std::size_t i = next_random(s) % 100; i > 0; --i) tokens.push_back(static_cast<token_id>(next_random(s) % 50'000));
    if (next_random(s) % 10 == 0) tokens.resize(10);  // no whole block: nobody holds it
    const d::request_view req{tokens};
    const auto got = p.choose(req);
    if (!got) continue;
    // hrt's rule visiting every node in index order, as written before holders().
    const auto& depth = got.match_blocks;
    const auto& score = got.load_score;
    double least = 0;
    std::uint32_t longest = 0;
    bool any = false;
    for (d::node_index x = 0; x < c.nodes; ++x) {
      if (!p.stats(x).available) continue;
      if (!any || score[x] < least) least = score[x];
      longest = std::max(longest, depth[x]);
      any = true;
    }
    auto pick = [&](auto&& keep, auto&& key) {
      d::node_index best = d::no_node;
      double best_key = 0;
      std::uint64_t ties = 0;
      for (d::node_index x = 0; x < c.nodes; ++x) {
        if (!p.stats(x).available || !keep(x)) continue;
        const double k = key(x);
        if (best == d::no_node || k > best_key) {
          best = x;
          best_key = k;
          ties = 1;
        } else if (k == best_key && ref_rng.below(++ties) == 0) {
          best = x;
        }
      }
      return best;
    };
    auto lighter = [&](d::node_index x) { return -score[x]; };
    d::node_index want;
    d::rule rule;
    if (longest == 0) {
      want = pick([](d::node_index) { return true; }, lighter);
      rule = d::rule::no_prefix;
    } else {
      want = pick([&](d::node_index x) { return depth[x] == longest; }, lighter);
      rule = d::rule::longest_prefix;
      if (score[want] - least > c.hrt.max_imbalance) {
        want = pick([](d::node_index) { return true; }, [&](d::node_index x) {
          return static_cast<double>(depth[x]) * 16.0 - c.hrt.tokens_per_load * (score[x] - least);
        });
        rule = d::rule::saved_vs_load;
      }
    }
    INFO("step " << step);
    REQUIRE(got.node == want);
    REQUIRE(got.fired == rule);
    ++by_rule[rule == d::rule::no_prefix ? 0 : rule == d::rule::longest_prefix ? 1 : 2];
    p.on_dispatched(got.node, req);
    open.push_back(got.node);
    // Requests end more slowly than they come, so the holders of popular prefixes fill up.
    if (next_random(s) % 3 != 0 && !open.empty()) {
      const std::size_t k = next_random(s) % open.size();
      p.on_finished(open[k], {});
      open[k] = open.back();
      open.pop_back();
    }
    if (next_random(s) % 8 == 0) {
      const auto node = static_cast<d::node_index>(next_random(s) % c.nodes);
      p.set_available(node, !p.stats(node).available);
    }
  }
  CHECK(by_rule[0] > 100);
  CHECK(by_rule[1] > 100);
  CHECK(by_rule[2] > 100);
}
