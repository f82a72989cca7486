// SPDX-License-Identifier: MIT
// Compiled body of hrtree::tree.
#pragma once

#include <planetserve/hrtree/tree.hpp>

#include <bit>
#include <stdexcept>
#include <unordered_set>

namespace planetserve::hrtree {

std::string_view to_string(memory_model m) noexcept {
  switch (m) {
    case memory_model::lru_blocks: return "lru-blocks";
    case memory_model::recent_prompts: return "recent-prompts";
  }
  return "?";
}

std::optional<memory_model> parse_memory_model(std::string_view name) noexcept {
  if (name == "lru-blocks") return memory_model::lru_blocks;
  if (name == "recent-prompts") return memory_model::recent_prompts;
  return std::nullopt;
}

tree::tree(std::size_t servers, tree_config config)
    : config_(config),
      hasher_(config.chunk_tokens, config.seed),
      wide_(servers > 64),
      servers_(servers) {
  if (servers >= nil) throw std::invalid_argument("hrtree::tree: too many servers");
  for (auto& st : servers_) {
    st.capacity = config_.capacity_blocks;
    if (config_.memory == memory_model::recent_prompts) st.recent.resize(config_.recent_prompts);
  }
  total_capacity_ = config_.capacity_blocks * servers;
}

tree::tree(tree&&) noexcept = default;
tree& tree::operator=(tree&&) noexcept = default;
tree::~tree() = default;

std::uint32_t tree::find_held(server s, block_key k) const noexcept {
  const auto& table = servers_[s].held;
  const auto high = static_cast<std::uint32_t>(k >> 32);
  const std::size_t i = table.find(k & 0xFFFF'FFFF'0000'0000ULL, [&](const held_slot& e) {
    return e.high == high && at(e.index).key == k;
  });
  return i == table.npos ? nil : table.at(i).index;
}

std::uint32_t tree::match(server s, std::span<const block_key> keys) const {
  std::uint32_t d = 0;
  if (!wide_) {
    const std::uint64_t b = bit(s);
    for (const block_key k : keys) {
      const std::size_t i = nodes_.find(k, [k](const node_slot& n) { return n.key == k; });
      if (i == nodes_.npos || !(nodes_.at(i).mask & b)) break;
      ++d;
    }
    return d;
  }
  for (const block_key k : keys) {
    if (find_held(s, k) == nil) break;
    ++d;
  }
  return d;
}

std::uint32_t tree::match(std::span<const block_key> keys, std::span<std::uint32_t> depth) const {
  const std::size_t n_servers = servers_.size();
  if (depth.size() < n_servers) throw std::invalid_argument("hrtree::tree::match: depth too short");
  for (std::size_t s = 0; s < n_servers; ++s) depth[s] = 0;
  if (n_servers == 0) return 0;
  const auto n = static_cast<std::uint32_t>(keys.size());

  if (!wide_) {
    // Servers drop out as the walk goes deeper; a server's depth is the step it dropped at.
    std::uint64_t alive = n_servers == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n_servers) - 1;
    for (std::uint32_t i = 0; i < n; ++i) {
      const block_key k = keys[i];
      const std::size_t slot = nodes_.find(k, [k](const node_slot& e) { return e.key == k; });
      const std::uint64_t m = slot == nodes_.npos ? 0 : nodes_.at(slot).mask;
      for (std::uint64_t gone = alive & ~m; gone != 0; gone &= gone - 1)
        depth[static_cast<std::size_t>(std::countr_zero(gone))] = i;
      alive &= m;
      if (alive == 0) return i;
    }
    for (; alive != 0; alive &= alive - 1) depth[static_cast<std::size_t>(std::countr_zero(alive))] = n;
    return n;
  }

  // Beyond 64 servers: the mask filters by server number modulo 64, the server's own table
  // confirms. Only servers still alive are checked at each step.
  auto& alive = alive_;
  alive.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    const block_key k = keys[i];
    const std::size_t slot = nodes_.find(k, [k](const node_slot& e) { return e.key == k; });
    if (slot == nodes_.npos) {
      for (const server s : alive) depth[s] = i;
      return i;
    }
    const std::uint64_t m = nodes_.at(slot).mask;
    if (i == 0) {
      for (std::size_t s = 0; s < n_servers; ++s)
        if ((m & bit(static_cast<server>(s))) && find_held(static_cast<server>(s), k) != nil)
          alive.push_back(static_cast<server>(s));
    } else {
      std::size_t kept = 0;
      for (const server s : alive) {
        if ((m & bit(s)) && find_held(s, k) != nil)
          alive[kept++] = s;
        else
          depth[s] = i;
      }
      alive.resize(kept);
    }
    if (alive.empty()) return i;
  }
  for (const server s : alive) depth[s] = n;
  return n;
}

std::uint32_t tree::allocate(block_key k) {
  std::uint32_t h;
  if (free_ != nil) {
    h = free_;
    free_ = at(h).next;
  } else {
    if (pool_used_ == nil - 1) throw std::length_error("hrtree::tree: too many cached blocks");
    h = pool_used_++;
    if ((h >> chunk_shift) >= chunks_.size()) chunks_.push_back(std::make_unique<holding[]>(chunk_size));
    if (config_.memory == memory_model::recent_prompts && refs_.size() <= h) refs_.resize(h + 1);
  }
  at(h) = holding{k, nil, nil};
  return h;
}

void tree::release(std::uint32_t h) noexcept {
  at(h).next = free_;
  free_ = h;
}

void tree::unlink(server_state& st, std::uint32_t h) noexcept {
  holding& x = at(h);
  if (x.prev != nil) at(x.prev).next = x.next; else st.head = x.next;
  if (x.next != nil) at(x.next).prev = x.prev; else st.tail = x.prev;
  x.prev = x.next = nil;
}

void tree::link_after(server_state& st, std::uint32_t anchor, std::uint32_t h) noexcept {
  holding& x = at(h);
  x.prev = anchor;
  x.next = anchor == nil ? st.head : at(anchor).next;
  if (x.next != nil) at(x.next).prev = h; else st.tail = h;
  if (anchor == nil) st.head = h; else at(anchor).next = h;
}

std::size_t tree::node_limit() const noexcept {
  // Under lru_blocks no more distinct blocks can exist than the capacities add up to, so
  // growth stops exactly there; recent_prompts has no such bound (0 = keep doubling).
  return config_.memory == memory_model::lru_blocks ? total_capacity_ : 0;
}

void tree::node_add(server s, block_key k) {
  const std::size_t i = nodes_.find(k, [k](const node_slot& e) { return e.key == k; });
  if (i != nodes_.npos)
    nodes_.at(i).mask |= bit(s);
  else
    nodes_.insert_new(node_slot{k, bit(s)}, node_limit());
}

void tree::node_drop(server s, block_key k) noexcept {
  const std::size_t i = nodes_.find(k, [k](const node_slot& e) { return e.key == k; });
  if (i == nodes_.npos) return;
  node_slot& e = nodes_.at(i);
  bool others = false;
  if (wide_) {
    // Keep the bit while another server with the same residue still holds the block.
    for (std::size_t o = s & 63u; o < servers_.size(); o += 64)
      if (o != s && find_held(static_cast<server>(o), k) != nil) {
        others = true;
        break;
      }
  }
  if (!others) e.mask &= ~bit(s);
  if (e.mask == 0) nodes_.erase_at(i);
}

void tree::drop_holding(server s, std::uint32_t h) noexcept {
  server_state& st = servers_[s];
  const block_key k = at(h).key;
  unlink(st, h);
  const std::size_t i = st.held.find(k & 0xFFFF'FFFF'0000'0000ULL,
                                     [h](const held_slot& e) { return e.index == h; });
  if (i != st.held.npos) st.held.erase_at(i);
  --st.count;
  --cached_;
  node_drop(s, k);
  release(h);
}

void tree::insert(server s, std::span<const block_key> keys) {
  if (s >= servers_.size()) throw std::out_of_range("hrtree::tree::insert: no such server");
  server_state& st = servers_[s];
  if (!st.active) return;
  const bool lru = config_.memory == memory_model::lru_blocks;
  if (lru && st.capacity == 0) return;
  const std::size_t n = lru && keys.size() > st.capacity ? st.capacity : keys.size();

  // The blocks s already holds form a prefix of the prompt (prefix closure).
  auto& held = scratch_;
  held.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t h = find_held(s, keys[i]);
    if (h == nil) break;
    held.push_back(h);
  }
  const std::size_t d = held.size();

  // Refresh deepest first so the root ends most recent: an ancestor is then never less
  // recent than its descendants, and the LRU tail is always safe to evict.
  for (std::size_t i = d; i-- > 0;) {
    unlink(st, held[i]);
    link_after(st, nil, held[i]);
    if (!lru) ++refs_[held[i]];
  }

  // Make room first. The prompt's held blocks are now the d most recent and n <= capacity,
  // so the blocks evicted here are never the prompt's own.
  if (lru)
    while (st.count + (n - d) > st.capacity && st.tail != nil) drop_holding(s, st.tail);

  // New blocks go right behind the deepest held one, deepest inserted first, so they keep
  // root-to-leaf recency order after it.
  const std::uint32_t anchor = d == 0 ? nil : held[d - 1];
  const std::size_t limit = lru ? st.capacity : 0;
  for (std::size_t i = n; i-- > d;) {
    const block_key k = keys[i];
    const std::uint32_t h = allocate(k);
    link_after(st, anchor, h);
    st.held.insert_new(held_slot{h, static_cast<std::uint32_t>(k >> 32)}, limit);
    if (!lru) refs_[h] = 1;
    node_add(s, k);
    ++st.count;
    ++cached_;
  }

  if (!lru && !st.recent.empty()) {
    auto& slot = st.recent[st.recent_next];
    if (st.recent_size == st.recent.size()) forget_prompt(s, slot);
    else ++st.recent_size;
    slot.assign(keys.begin(), keys.end());
    st.recent_next = (st.recent_next + 1) % st.recent.size();
  } else if (!lru) {
    // Remembering zero prompts: forget this one at once.
    forget_prompt(s, std::vector<block_key>(keys.begin(), keys.end()));
  }
}

void tree::forget_prompt(server s, const std::vector<block_key>& keys) noexcept {
  // Deepest first: a descendant's count never exceeds its ancestor's, so this keeps closure.
  for (std::size_t i = keys.size(); i-- > 0;) {
    const std::uint32_t h = find_held(s, keys[i]);
    if (h != nil && --refs_[h] == 0) drop_holding(s, h);
  }
}

void tree::set_capacity(server s, std::size_t blocks) {
  if (s >= servers_.size()) throw std::out_of_range("hrtree::tree::set_capacity: no such server");
  server_state& st = servers_[s];
  total_capacity_ = total_capacity_ - st.capacity + blocks;
  st.capacity = blocks;
  if (config_.memory == memory_model::lru_blocks)
    while (st.count > st.capacity && st.tail != nil) drop_holding(s, st.tail);
}

std::size_t tree::capacity(server s) const noexcept {
  return s < servers_.size() ? servers_[s].capacity : 0;
}

void tree::clear(server s) {
  if (s >= servers_.size()) throw std::out_of_range("hrtree::tree::clear: no such server");
  server_state& st = servers_[s];
  for (std::uint32_t h = st.head; h != nil;) {
    const std::uint32_t next = at(h).next;
    node_drop(s, at(h).key);
    release(h);
    h = next;
  }
  cached_ -= st.count;
  st.head = st.tail = nil;
  st.count = 0;
  st.held.clear();
  for (auto& p : st.recent) p.clear();
  st.recent_next = st.recent_size = 0;
}

void tree::remove(server s) {
  clear(s);
  servers_[s].active = false;
  servers_[s].held.release();
}

void tree::restore(server s) {
  if (s >= servers_.size()) throw std::out_of_range("hrtree::tree::restore: no such server");
  servers_[s].active = true;
}

bool tree::active(server s) const noexcept { return s < servers_.size() && servers_[s].active; }

void tree::clear() {
  for (std::size_t s = 0; s < servers_.size(); ++s) clear(static_cast<server>(s));
}

std::size_t tree::held_blocks(server s) const noexcept {
  return s < servers_.size() ? servers_[s].count : 0;
}

std::size_t tree::memory_bytes() const noexcept {
  std::size_t b = nodes_.memory_bytes() + chunks_.size() * chunk_size * sizeof(holding) +
                  chunks_.capacity() * sizeof(void*) + refs_.capacity() * sizeof(std::uint32_t) +
                  servers_.capacity() * sizeof(server_state);
  for (const auto& st : servers_) {
    b += st.held.memory_bytes();
    for (const auto& p : st.recent) b += p.capacity() * sizeof(block_key);
  }
  return b;
}

bool tree::check() const {
  std::size_t total = 0;
  for (std::size_t s = 0; s < servers_.size(); ++s) {
    const server_state& st = servers_[s];
    std::size_t count = 0;
    std::uint32_t prev = nil;
    for (std::uint32_t h = st.head; h != nil; h = at(h).next) {
      if (at(h).prev != prev) return false;
      if (find_held(static_cast<server>(s), at(h).key) != h) return false;
      const block_key k = at(h).key;
      const std::size_t i = nodes_.find(k, [k](const node_slot& e) { return e.key == k; });
      if (i == nodes_.npos || !(nodes_.at(i).mask & bit(static_cast<server>(s)))) return false;
      prev = h;
      if (++count > st.count) return false;
    }
    if (prev != st.tail || count != st.count || st.held.size() != st.count) return false;
    if (config_.memory == memory_model::lru_blocks && st.count > st.capacity) return false;
    total += count;
  }
  if (total != cached_) return false;
  // Every node is held by someone whose bit it carries.
  bool ok = true;
  nodes_.for_each([&](const node_slot& e) {
    if (e.mask == 0) ok = false;
    for (std::size_t s = 0; s < servers_.size() && ok; ++s) {
      const bool has = find_held(static_cast<server>(s), e.key) != nil;
      if (has && !(e.mask & bit(static_cast<server>(s)))) ok = false;
      if (!wide_ && !has && (e.mask & bit(static_cast<server>(s)))) ok = false;
    }
  });
  return ok;
}

}  // namespace planetserve::hrtree
