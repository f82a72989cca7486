// SPDX-License-Identifier: MIT
// Tests of hrtree::block_hasher and hrtree::tree: match, insert, evict, remove, clear.
#include <planetserve/hrtree/tree.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

namespace {

using planetserve::hrtree::block_hasher;
using planetserve::hrtree::block_key;
using planetserve::hrtree::memory_model;
using planetserve::hrtree::tree;
using planetserve::hrtree::tree_config;
using planetserve::tokenize::token_id;

struct gen {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::vector<token_id> tokens(std::size_t n) {
    std::vector<token_id> v(n);
    for (auto& t : v) t = static_cast<token_id>(next() % 128'256);
    return v;
  }
};

std::vector<token_id> concat(std::vector<token_id> a, const std::vector<token_id>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// Keys of `n` blocks of fresh random tokens after `prefix`'s blocks.
std::vector<block_key> keys_of(const tree& t, const std::vector<token_id>& tokens) {
  return t.hasher().keys(tokens);
}

}  // namespace

TEST_CASE("hrtree block_hasher: full blocks only, chained, prefix-stable, seeded", "[hrtree]") {
  gen g{1};
  const auto a = g.tokens(16 * 5 + 7);
  block_hasher h(16, 0);
  const auto ka = h.keys(a);
  REQUIRE(ka.size() == 5);
  for (const auto k : ka) CHECK(k != 0);

  // A prefix's keys are a prefix of the whole prompt's keys.
  const auto kp = h.keys(std::span<const token_id>(a).first(16 * 3));
  REQUIRE(kp.size() == 3);
  CHECK(std::equal(kp.begin(), kp.end(), ka.begin()));

  // Same block contents under a different parent give a different key.
  std::vector<token_id> b(a.begin() + 16, a.begin() + 32);  // block 1 of a, as block 0 of b
  CHECK(h.keys(b)[0] != ka[1]);
  // Changing one token changes that block's key and every later one, not earlier ones.
  auto c = a;
  c[16 * 2 + 3] ^= 1;
  const auto kc = h.keys(c);
  CHECK(kc[0] == ka[0]);
  CHECK(kc[1] == ka[1]);
  for (std::size_t i = 2; i < 5; ++i) CHECK(kc[i] != ka[i]);
  // Another seed (model) or block size gives other keys.
  CHECK(block_hasher(16, 7).keys(a)[0] != ka[0]);
  CHECK(block_hasher(10, 0).keys(a).size() == 8);
  CHECK_THROWS(block_hasher(0, 0));
}

TEST_CASE("hrtree tree: match reports each server's leading held blocks", "[hrtree]") {
  gen g{2};
  tree t(4);
  const auto prefix = g.tokens(16 * 4);
  const auto p1 = concat(prefix, g.tokens(16 * 3));
  const auto p2 = concat(prefix, g.tokens(16 * 2));
  t.insert(1, keys_of(t, p1));
  t.insert(3, keys_of(t, p2));
  REQUIRE(t.check());

  std::vector<std::uint32_t> depth(4, 99);
  CHECK(t.match(keys_of(t, p1), depth) == 7);
  CHECK(depth == std::vector<std::uint32_t>{0, 7, 0, 4});
  CHECK(t.match(keys_of(t, p2), depth) == 6);
  CHECK(depth == std::vector<std::uint32_t>{0, 4, 0, 6});
  // A prompt that diverges inside the shared prefix matches up to the divergence.
  auto p3 = p1;
  p3[16 * 2 + 5] ^= 0xFF;
  CHECK(t.match(keys_of(t, p3), depth) == 2);
  CHECK(depth == std::vector<std::uint32_t>{0, 2, 0, 2});
  CHECK(t.match(1, keys_of(t, p3)) == 2);
  CHECK(t.match(0, keys_of(t, p1)) == 0);
  // Partial trailing blocks never match: only full blocks are cached.
  CHECK(t.match(keys_of(t, std::vector<token_id>(p1.begin(), p1.begin() + 15)), depth) == 0);
  CHECK(t.cached_blocks() == 7 + 6);
  CHECK(t.distinct_blocks() == 4 + 3 + 2);
  CHECK(t.held_blocks(1) == 7);
}

TEST_CASE("hrtree tree: LRU eviction drops the least recent, deepest blocks first", "[hrtree]") {
  gen g{3};
  tree_config cfg;
  cfg.capacity_blocks = 6;
  tree t(2, cfg);
  const auto a = g.tokens(16 * 3), b = g.tokens(16 * 3), c = g.tokens(16 * 3);
  t.insert(0, keys_of(t, a));
  t.insert(0, keys_of(t, b));
  CHECK(t.held_blocks(0) == 6);
  t.insert(0, keys_of(t, a));  // a is now more recent than b
  t.insert(0, keys_of(t, c));
  REQUIRE(t.check());
  CHECK(t.held_blocks(0) == 6);
  CHECK(t.match(0, keys_of(t, a)) == 3);
  CHECK(t.match(0, keys_of(t, b)) == 0);
  CHECK(t.match(0, keys_of(t, c)) == 3);

  // Needing only part of a prompt's room trims that prompt from its deep end.
  const auto d = g.tokens(16 * 2);
  t.insert(0, keys_of(t, d));
  REQUIRE(t.check());
  CHECK(t.match(0, keys_of(t, a)) == 1);
  CHECK(t.match(0, keys_of(t, c)) == 3);
  CHECK(t.match(0, keys_of(t, d)) == 2);

  // A prompt longer than the capacity keeps its first `capacity` blocks.
  const auto e = g.tokens(16 * 10);
  t.insert(1, keys_of(t, e));
  CHECK(t.match(1, keys_of(t, e)) == 6);
  REQUIRE(t.check());

  // Shrinking the capacity evicts at once.
  t.set_capacity(1, 2);
  CHECK(t.held_blocks(1) == 2);
  CHECK(t.match(1, keys_of(t, e)) == 2);
  REQUIRE(t.check());
}

TEST_CASE("hrtree tree: a prompt branching inside a run splits it; LRU stays per block", "[hrtree]") {
  gen g{10};
  tree_config cfg;
  cfg.capacity_blocks = 6;
  tree t(1, cfg);
  const auto a = g.tokens(16 * 4);
  const auto b = concat(std::vector<token_id>(a.begin(), a.begin() + 32), g.tokens(16 * 2));
  t.insert(0, keys_of(t, a));
  t.insert(0, keys_of(t, b));  // shares a's first 2 blocks, so a's last 2 are least recent
  REQUIRE(t.check());
  CHECK(t.held_blocks(0) == 6);
  CHECK(t.distinct_blocks() == 6);
  const auto c = g.tokens(16 * 2);
  t.insert(0, keys_of(t, c));
  REQUIRE(t.check());
  CHECK(t.match(0, keys_of(t, a)) == 2);
  CHECK(t.match(0, keys_of(t, b)) == 4);
  CHECK(t.match(0, keys_of(t, c)) == 2);
  // A prompt ending inside a run splits it too; re-using only the front keeps the back old.
  const auto d = std::vector<token_id>(b.begin(), b.begin() + 16 * 3);
  t.insert(0, keys_of(t, d));
  t.insert(0, keys_of(t, c));
  t.insert(0, keys_of(t, g.tokens(16)));
  REQUIRE(t.check());
  CHECK(t.match(0, keys_of(t, b)) == 3);
  CHECK(t.match(0, keys_of(t, c)) == 2);
}

TEST_CASE("hrtree tree: random workload stays consistent and within capacity", "[hrtree]") {
  const std::size_t servers = GENERATE(3, 70);  // 70: beyond the 64-bit fast path
  gen g{4 + servers};
  tree_config cfg;
  cfg.capacity_blocks = 40;
  cfg.chunk_tokens = 4;
  tree t(servers, cfg);
  // A few roots with branching continuations, so prefixes are shared at many depths.
  std::vector<std::vector<token_id>> pool;
  for (int i = 0; i < 6; ++i) pool.push_back(g.tokens(4 * (1 + g.next() % 6)));
  std::vector<std::uint32_t> depth(servers);
  for (int step = 0; step < 3000; ++step) {
    auto p = pool[g.next() % pool.size()];
    const auto extra = g.tokens(4 * (g.next() % 8));
    p.insert(p.end(), extra.begin(), extra.end());
    if (g.next() % 3 == 0) pool.push_back(p);
    if (pool.size() > 40) pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(g.next() % pool.size()));
    const auto s = static_cast<tree::server>(g.next() % servers);
    const auto keys = keys_of(t, p);
    t.insert(s, keys);
    // The prompt just inserted is fully held by s when it fits.
    t.match(keys, depth);
    CHECK(depth[s] == std::min<std::size_t>(keys.size(), cfg.capacity_blocks));
    CHECK(t.held_blocks(s) <= cfg.capacity_blocks);
    if (step % 97 == 0) {
      REQUIRE(t.check());
      if (g.next() % 2) t.clear(static_cast<tree::server>(g.next() % servers));
    }
  }
  REQUIRE(t.check());
  std::size_t sum = 0;
  for (std::size_t s = 0; s < servers; ++s) sum += t.held_blocks(static_cast<tree::server>(s));
  CHECK(sum == t.cached_blocks());
}

namespace {

/// Block-by-block LRU as the issue states it, written the obvious way: the reference the
/// segment tree must agree with exactly.
struct naive_lru {
  std::size_t capacity;
  std::list<block_key> order;  // front = most recent
  std::unordered_map<block_key, std::list<block_key>::iterator> at;

  void insert(const std::vector<block_key>& keys) {
    const std::size_t n = std::min(keys.size(), capacity);
    for (std::size_t i = n; i-- > 0;) {  // deepest first: the root ends most recent
      if (auto it = at.find(keys[i]); it != at.end()) order.erase(it->second);
      order.push_front(keys[i]);
      at[keys[i]] = order.begin();
    }
    while (order.size() > capacity) {
      at.erase(order.back());
      order.pop_back();
    }
  }
  std::uint32_t match(const std::vector<block_key>& keys) const {
    std::uint32_t d = 0;
    while (d < keys.size() && at.count(keys[d])) ++d;
    return d;
  }
};

}  // namespace

TEST_CASE("hrtree tree: agrees with a block-by-block LRU reference", "[hrtree]") {
  const std::size_t servers = GENERATE(2, 67);
  gen g{11 + servers};
  tree_config cfg;
  cfg.capacity_blocks = 24;
  cfg.chunk_tokens = 2;
  tree t(servers, cfg);
  std::vector<naive_lru> ref(servers, naive_lru{cfg.capacity_blocks, {}, {}});
  std::vector<std::vector<block_key>> pool;
  for (int i = 0; i < 5; ++i) pool.push_back(keys_of(t, g.tokens(2 * (1 + g.next() % 5))));
  std::vector<std::uint32_t> depth(servers);
  std::uint64_t mismatches = 0, compared = 0;
  for (int step = 0; step < 3000; ++step) {
    // Reuse a pooled prompt, a prefix of one, or one extended by fresh blocks.
    auto p = pool[g.next() % pool.size()];
    const auto mode = g.next() % 3;
    if (mode == 0 && !p.empty()) {
      p.resize(g.next() % p.size() + 1);
    } else if (mode == 1) {
      // Fresh blocks chained on the prompt's last key, as hashing the longer prompt would.
      const auto extra = g.tokens(2 * (1 + g.next() % 6));
      block_hasher h(2, p.empty() ? 0 : p.back());
      const auto more = h.keys(extra);
      p.insert(p.end(), more.begin(), more.end());
      pool.push_back(p);
      if (pool.size() > 30) pool.erase(pool.begin());
    }
    const auto s = static_cast<tree::server>(g.next() % servers);
    t.insert(s, p);
    ref[s].insert(p);
    for (const auto& q : pool) {
      t.match(q, depth);
      for (std::size_t x = 0; x < servers; ++x) {
        mismatches += depth[x] != ref[x].match(q);
        ++compared;
      }
    }
    mismatches += t.held_blocks(s) != ref[s].order.size();
  }
  CHECK(compared > 100'000);
  CHECK(mismatches == 0);
  REQUIRE(t.check());
}

TEST_CASE("hrtree tree: no false matches over a million random prefixes", "[hrtree]") {
  gen g{5};
  tree_config cfg;
  cfg.capacity_blocks = 1 << 20;
  cfg.chunk_tokens = 2;
  tree t(2, cfg);
  std::vector<block_key> keys;
  std::vector<std::uint32_t> depth(2);
  // 100k inserted prompts of 10 blocks: a million cached blocks.
  std::vector<token_id> p(20);
  for (int i = 0; i < 100'000; ++i) {
    for (auto& x : p) x = static_cast<token_id>(g.next());
    t.hasher().keys(p, keys);
    t.insert(static_cast<tree::server>(i & 1), keys);
  }
  CHECK(t.cached_blocks() == 1'000'000);
  // A million fresh random prefixes (one block each) match nothing.
  std::uint64_t false_matches = 0;
  std::vector<token_id> q(2);
  for (int i = 0; i < 1'000'000; ++i) {
    q[0] = static_cast<token_id>(g.next());
    q[1] = static_cast<token_id>(g.next());
    t.hasher().keys(q, keys);
    false_matches += t.match(keys, depth);
  }
  CHECK(false_matches == 0);
  // And the last prompt inserted still matches in full.
  t.hasher().keys(p, keys);
  CHECK(t.match(keys, depth) == 10);
}

TEST_CASE("hrtree tree: clear, remove and restore a server", "[hrtree]") {
  gen g{6};
  tree t(3);
  const auto shared = g.tokens(16 * 2);
  const auto a = concat(shared, g.tokens(16));
  t.insert(0, keys_of(t, a));
  t.insert(1, keys_of(t, a));
  t.insert(2, keys_of(t, shared));
  t.clear(0);
  REQUIRE(t.check());
  std::vector<std::uint32_t> depth(3);
  t.match(keys_of(t, a), depth);
  CHECK(depth == std::vector<std::uint32_t>{0, 3, 2});
  CHECK(t.held_blocks(0) == 0);
  CHECK(t.distinct_blocks() == 3);

  t.remove(1);
  CHECK_FALSE(t.active(1));
  t.insert(1, keys_of(t, a));  // ignored while removed
  t.match(keys_of(t, a), depth);
  CHECK(depth == std::vector<std::uint32_t>{0, 0, 2});
  CHECK(t.distinct_blocks() == 2);
  REQUIRE(t.check());

  t.restore(1);
  t.insert(1, keys_of(t, a));
  t.match(keys_of(t, a), depth);
  CHECK(depth == std::vector<std::uint32_t>{0, 3, 2});

  t.clear();
  CHECK(t.cached_blocks() == 0);
  CHECK(t.distinct_blocks() == 0);
  CHECK(t.match(keys_of(t, a), depth) == 0);
  REQUIRE(t.check());
}

TEST_CASE("hrtree tree: beyond 64 servers, servers sharing a mask bit stay distinct", "[hrtree]") {
  gen g{7};
  tree t(130);
  const auto a = g.tokens(16 * 3);
  const auto b = concat(std::vector<token_id>(a.begin(), a.begin() + 32), g.tokens(16));
  t.insert(0, keys_of(t, a));
  t.insert(64, keys_of(t, b));   // same residue mod 64 as 0 and 128
  t.insert(129, keys_of(t, a));
  std::vector<std::uint32_t> depth(130);
  CHECK(t.match(keys_of(t, a), depth) == 3);
  CHECK(depth[0] == 3);
  CHECK(depth[64] == 2);
  CHECK(depth[128] == 0);
  CHECK(depth[129] == 3);
  CHECK(depth[1] == 0);
  t.clear(0);
  t.match(keys_of(t, a), depth);
  CHECK(depth[0] == 0);
  CHECK(depth[64] == 2);
  CHECK(depth[129] == 3);
  t.clear(129);
  CHECK(t.match(keys_of(t, a), depth) == 2);
  CHECK(t.distinct_blocks() == 3);
  REQUIRE(t.check());
}

TEST_CASE("hrtree tree: the seed's memory keeps the last N prompts per server", "[hrtree]") {
  gen g{8};
  tree_config cfg;
  cfg.memory = memory_model::recent_prompts;
  cfg.recent_prompts = 2;
  tree t(1, cfg);
  const auto shared = g.tokens(16 * 2);
  const auto p1 = concat(shared, g.tokens(16 * 2));
  const auto p2 = concat(shared, g.tokens(16));
  const auto p3 = g.tokens(16 * 3);
  t.insert(0, keys_of(t, p1));
  t.insert(0, keys_of(t, p2));
  CHECK(t.match(0, keys_of(t, p1)) == 4);
  t.insert(0, keys_of(t, p3));  // p1 falls out; the prefix it shares with p2 stays
  REQUIRE(t.check());
  CHECK(t.match(0, keys_of(t, p1)) == 2);
  CHECK(t.match(0, keys_of(t, p2)) == 3);
  CHECK(t.match(0, keys_of(t, p3)) == 3);
  CHECK(t.held_blocks(0) == 6);
  t.insert(0, keys_of(t, p3));  // p2 falls out
  CHECK(t.match(0, keys_of(t, p2)) == 0);
  CHECK(t.held_blocks(0) == 3);
  REQUIRE(t.check());
  CHECK(planetserve::hrtree::parse_memory_model("recent-prompts") == memory_model::recent_prompts);
  CHECK(planetserve::hrtree::to_string(memory_model::lru_blocks) == "lru-blocks");
  CHECK_FALSE(planetserve::hrtree::parse_memory_model("lru"));
}

TEST_CASE("hrtree tree: memory stays flat under an endless stream of new prompts", "[hrtree]") {
  gen g{9};
  tree_config cfg;
  cfg.capacity_blocks = 2000;
  tree t(4, cfg);
  std::vector<block_key> keys;
  auto feed = [&](int n) {
    for (int i = 0; i < n; ++i) {
      t.hasher().keys(g.tokens(16 * (1 + g.next() % 40)), keys);
      t.insert(static_cast<tree::server>(g.next() % 4), keys);
    }
  };
  // Once full, recycled segments and holdings carry the load: memory levels off.
  feed(4000);
  const auto warm = t.memory_bytes();
  feed(8000);
  const auto later = t.memory_bytes();
  CHECK(later <= warm + warm / 4);
  feed(8000);
  CHECK(t.memory_bytes() <= later + later / 20);
  CHECK(t.cached_blocks() <= 4 * 2000);
  REQUIRE(t.check());
}
