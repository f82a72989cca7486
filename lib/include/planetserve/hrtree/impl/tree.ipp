// SPDX-License-Identifier: MIT
// Compiled body of hrtree::tree.
#pragma once

#include <planetserve/hrtree/tree.hpp>

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

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
    : config_(config), hasher_(config.chunk_tokens, config.seed), servers_(servers), mark_(servers, 0) {
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

// Walking ---------------------------------------------------------------------------------

std::size_t tree::walk(std::span<const block_key> keys) const {
  // Keys are chained, so equal length and equal last key mean the same prompt: a decision's
  // match() and the insert() that follows walk once.
  if (!keys.empty() && walked_len_ == keys.size() && walked_last_ == keys.back() &&
      walked_version_ == version_)
    return walked_covered_;
  path_.clear();
  const std::size_t n = keys.size();
  std::size_t i = 0;
  std::uint32_t cur = nil;
  std::size_t pos = 0, len = 0;
  const block_key* run = nullptr;
  while (i < n) {
    // Inside a segment the next block is the next key of the run: no lookup.
    if (pos < len) {
      if (run[pos] != keys[i]) break;  // diverged inside: children hang only at segment ends
      ++pos;
      ++i;
      continue;
    }
    const block_key k = keys[i];
    const std::size_t slot = heads_.find(k, [k](const head_slot& e) { return e.key == k; });
    if (slot == heads_.npos) break;
    cur = static_cast<std::uint32_t>(heads_.at(slot).seg);
    path_.push_back(cur);
    run = segs_[cur].keys.data();
    len = segs_[cur].keys.size();
    pos = 1;
    ++i;
  }
  last_ = pos;
  walked_last_ = keys.empty() ? 0 : keys.back();
  walked_len_ = keys.size();
  walked_covered_ = i;
  walked_version_ = version_;
  return i;
}

std::uint32_t tree::find_holding(std::uint32_t seg, server s) const noexcept {
  for (const seg_holder& x : segs_[seg].holders)
    if (x.server == s) return x.hold;
  return nil;
}

std::uint32_t tree::match(std::span<const block_key> keys, std::span<std::uint32_t> depth) const {
  const std::size_t n_servers = servers_.size();
  if (depth.size() < n_servers) throw std::invalid_argument("hrtree::tree::match: depth too short");
  for (std::size_t s = 0; s < n_servers; ++s) depth[s] = 0;
  return match_walked(keys, depth, nullptr);
}

std::uint32_t tree::match_holders(std::span<const block_key> keys, std::span<std::uint32_t> depth,
                                  std::vector<server>& holders) const {
  if (depth.size() < servers_.size()) throw std::invalid_argument("hrtree::tree::match_holders: depth too short");
  holders.clear();
  return match_walked(keys, depth, &holders);
}

std::uint32_t tree::match_walked(std::span<const block_key> keys, std::span<std::uint32_t> depth,
                                 std::vector<server>* holders) const {
  walk(keys);
  // A server reaches into segment k only if it held all of segment k-1: marks carry that
  // from one segment to the next without touching servers that dropped out.
  std::uint32_t longest = 0;
  std::uint32_t start = 0;
  for (std::size_t k = 0; k < path_.size(); ++k) {
    const std::uint32_t seg = path_[k];
    const bool last = k + 1 == path_.size();
    const auto covered = static_cast<std::uint32_t>(last ? last_ : segs_[seg].keys.size());
    const std::uint32_t prev_mark = epoch_;
    if (++epoch_ == 0) {  // wrapped: no stale mark may look current
      std::fill(mark_.begin(), mark_.end(), 0);
      epoch_ = 1;
    }
    for (const seg_holder& x : segs_[seg].holders) {
      if (k != 0 && mark_[x.server] != prev_mark) continue;
      // Only the first segment's holders can hold anything: each is listed once, here.
      if (k == 0 && holders) holders->push_back(x.server);
      const std::uint32_t reach = std::min(x.held, covered);
      depth[x.server] = start + reach;
      if (start + reach > longest) longest = start + reach;
      if (x.held >= covered) mark_[x.server] = epoch_;
    }
    start += covered;
  }
  return longest;
}

std::uint32_t tree::match(server s, std::span<const block_key> keys) const {
  if (s >= servers_.size()) return 0;
  walk(keys);
  std::uint32_t d = 0;
  for (std::size_t k = 0; k < path_.size(); ++k) {
    const std::uint32_t seg = path_[k];
    const auto covered = static_cast<std::uint32_t>(k + 1 == path_.size() ? last_ : segs_[seg].keys.size());
    const std::uint32_t h = find_holding(seg, s);
    if (h == nil) break;
    d += std::min(held(h), covered);
    if (held(h) < covered) break;
  }
  return d;
}

// Segments and holdings -------------------------------------------------------------------

std::uint32_t tree::new_segment(std::span<const block_key> keys, block_key parent_key) {
  std::uint32_t id;
  if (free_seg_ != nil) {
    id = free_seg_;
    free_seg_ = segs_[id].next_free;
  } else {
    id = static_cast<std::uint32_t>(segs_.size());
    segs_.emplace_back();
  }
  segment& g = segs_[id];
  g.keys.assign(keys.begin(), keys.end());  // reuses a recycled segment's buffer
  g.parent_key = parent_key;
  g.holders.clear();
  g.next_free = nil;
  heads_.insert_new(head_slot{keys[0], id}, 0);
  distinct_ += keys.size();
  return id;
}

void tree::free_segment(std::uint32_t seg) noexcept {
  segment& g = segs_[seg];
  const block_key k = g.keys.front();
  const std::size_t slot = heads_.find(k, [k](const head_slot& e) { return e.key == k; });
  if (slot != heads_.npos) heads_.erase_at(slot);
  distinct_ -= g.keys.size();
  g.keys.clear();
  g.holders.clear();
  g.next_free = free_seg_;
  free_seg_ = seg;
}

void tree::split(std::uint32_t seg, std::uint32_t at) {
  // new_segment() must not move segs_ while it copies from this segment's keys.
  if (free_seg_ == nil && segs_.size() == segs_.capacity()) segs_.reserve(segs_.size() * 2 + 1);
  const std::span<const block_key> tail(segs_[seg].keys.data() + at, segs_[seg].keys.size() - at);
  distinct_ -= tail.size();  // new_segment() counts them again
  const std::uint32_t cont = new_segment(tail, segs_[seg].keys[at - 1]);
  segs_[seg].keys.resize(at);
  // Holders of the tail keep it at the same recency, just behind the head part.
  for (std::size_t i = 0; i < segs_[seg].holders.size(); ++i) {
    seg_holder& x = segs_[seg].holders[i];
    if (x.held <= at) continue;
    const std::uint32_t tail_held = x.held - at;
    x.held = at;
    const std::uint32_t h = x.hold;
    const server s = x.server;
    const std::uint32_t y = new_holding(s, cont, tail_held);
    link_after(servers_[s], h, y);
  }
}

void tree::trim(std::uint32_t seg) noexcept {
  // Blocks nobody holds any more go: the walk must not pass through them to stale children
  // (there are none: a child's holders hold its parent) and they should not cost memory.
  std::uint32_t most = 0;
  for (const seg_holder& x : segs_[seg].holders) most = std::max(most, x.held);
  auto& keys = segs_[seg].keys;
  if (most < keys.size()) {
    distinct_ -= keys.size() - most;
    keys.resize(most);
  }
}

std::uint32_t tree::new_holding(server s, std::uint32_t seg, std::uint32_t held) {
  std::uint32_t h;
  if (free_hold_ != nil) {
    h = free_hold_;
    free_hold_ = holds_[h].next_free;
  } else {
    h = static_cast<std::uint32_t>(holds_.size());
    if (h == nil) throw std::length_error("hrtree::tree: too many holdings");
    holds_.emplace_back();
  }
  auto& v = segs_[seg].holders;
  holds_[h] = holding{seg, static_cast<std::uint32_t>(v.size()), s, nil, nil, nil};
  v.push_back(seg_holder{s, held, h});
  return h;
}

void tree::drop_holding(std::uint32_t h) noexcept {
  holding& x = holds_[h];
  unlink(servers_[x.server], h);
  const std::uint32_t seg = x.seg;
  auto& v = segs_[seg].holders;
  // Swap-remove: the last holder takes this one's place.
  v[x.pos] = v.back();
  holds_[v[x.pos].hold].pos = x.pos;
  v.pop_back();
  x.next_free = free_hold_;
  free_hold_ = h;
  if (v.empty()) free_segment(seg); else trim(seg);
}

void tree::unlink(server_state& st, std::uint32_t h) noexcept {
  holding& x = holds_[h];
  if (x.prev != nil) holds_[x.prev].next = x.next; else st.head = x.next;
  if (x.next != nil) holds_[x.next].prev = x.prev; else st.tail = x.prev;
  x.prev = x.next = nil;
}

void tree::link_after(server_state& st, std::uint32_t anchor, std::uint32_t h) noexcept {
  holding& x = holds_[h];
  x.prev = anchor;
  x.next = anchor == nil ? st.head : holds_[anchor].next;
  if (x.next != nil) holds_[x.next].prev = h; else st.tail = h;
  if (anchor == nil) st.head = h; else holds_[anchor].next = h;
}

void tree::evict(server s, std::size_t blocks) noexcept {
  server_state& st = servers_[s];
  while (blocks > 0 && st.tail != nil) {
    const std::uint32_t h = st.tail;
    std::uint32_t& x_held = held(h);
    const auto take = static_cast<std::uint32_t>(std::min<std::size_t>(blocks, x_held));
    x_held -= take;
    blocks -= take;
    st.count -= take;
    cached_ -= take;
    if (x_held == 0) drop_holding(h); else trim(holds_[h].seg);
  }
}

// Inserting -------------------------------------------------------------------------------

void tree::insert(server s, std::span<const block_key> keys) {
  if (s >= servers_.size()) throw std::out_of_range("hrtree::tree::insert: no such server");
  server_state& st = servers_[s];
  if (!st.active) return;
  const bool lru = config_.memory == memory_model::lru_blocks;
  if (lru && st.capacity == 0) return;
  if (lru && keys.size() > st.capacity) keys = keys.first(st.capacity);
  const std::size_t n = keys.size();

  std::size_t covered = walk(keys);
  if (!path_.empty() && last_ < segs_[path_.back()].keys.size()) {
    // The prompt stops or branches inside this segment: cut it there so that every
    // segment on the path is covered whole.
    touch_mutation();
    split(path_.back(), static_cast<std::uint32_t>(last_));
  }
  touch_mutation();

  // The prompt's existing holdings first move to the front (deepest first, so the root ends
  // most recent); eviction from the tail then never reaches them, since n <= capacity.
  auto& hk = hk_;
  hk.resize(path_.size());
  std::size_t fresh = n - covered;
  for (std::size_t k = 0; k < path_.size(); ++k) {
    hk[k] = find_holding(path_[k], s);
    fresh += segs_[path_[k]].keys.size() - (hk[k] == nil ? 0 : held(hk[k]));
  }
  for (std::size_t k = path_.size(); k-- > 0;)
    if (hk[k] != nil) {
      unlink(st, hk[k]);
      link_after(st, nil, hk[k]);
    }
  if (lru && st.count + fresh > st.capacity) evict(s, st.count + fresh - st.capacity);

  if (covered < n) {
    const std::uint32_t seg = new_segment(keys.subspan(covered), covered == 0 ? 0 : keys[covered - 1]);
    path_.push_back(seg);
    hk.push_back(nil);
  }
  for (std::size_t k = path_.size(); k-- > 0;) {
    const auto len = static_cast<std::uint32_t>(segs_[path_[k]].keys.size());
    if (hk[k] == nil) {
      link_after(st, nil, new_holding(s, path_[k], len));
    } else {
      held(hk[k]) = len;
      unlink(st, hk[k]);
      link_after(st, nil, hk[k]);
    }
  }
  st.count += fresh;
  cached_ += fresh;

  if (!lru) {
    if (st.recent.empty()) {
      forget_beyond_ring(s);
      return;
    }
    auto& slot = st.recent[st.recent_next];
    const bool full = st.recent_size == st.recent.size();
    if (!full) ++st.recent_size;
    slot.assign(keys.begin(), keys.end());
    st.recent_next = (st.recent_next + 1) % st.recent.size();
    if (full) forget_beyond_ring(s);
  }
}

void tree::forget_beyond_ring(server s) {
  // The seed's memory: s holds exactly the union of its remembered prompts. Recompute what
  // each of s's segments must keep from the ring, then cut the rest.
  touch_mutation();
  if (want_.size() < segs_.size()) {
    want_.resize(segs_.size(), 0);
    want_mark_.resize(segs_.size(), 0);
  }
  if (++epoch_ == 0) {
    std::fill(mark_.begin(), mark_.end(), 0);
    std::fill(want_mark_.begin(), want_mark_.end(), 0);
    epoch_ = 1;
  }
  const std::uint32_t stamp = epoch_;
  server_state& st = servers_[s];
  for (std::size_t r = 0; r < st.recent_size; ++r) {
    const auto& keys = st.recent[r];
    walk(keys);
    for (std::size_t k = 0; k < path_.size(); ++k) {
      const std::uint32_t seg = path_[k];
      const auto covered = static_cast<std::uint32_t>(k + 1 == path_.size() ? last_ : segs_[seg].keys.size());
      if (want_mark_[seg] != stamp) {
        want_mark_[seg] = stamp;
        want_[seg] = 0;
      }
      want_[seg] = std::max(want_[seg], covered);
    }
  }
  walked_version_ = ~std::uint64_t{0};
  for (std::uint32_t h = st.head; h != nil;) {
    const std::uint32_t next = holds_[h].next;
    const std::uint32_t seg = holds_[h].seg;
    const std::uint32_t keep = want_mark_[seg] == stamp ? want_[seg] : 0;
    if (keep < held(h)) {
      const std::uint32_t cut = held(h) - keep;
      held(h) = keep;
      st.count -= cut;
      cached_ -= cut;
      if (keep == 0) drop_holding(h); else trim(seg);
    }
    h = next;
  }
}

// Capacity, clearing, accounting ----------------------------------------------------------

void tree::set_capacity(server s, std::size_t blocks) {
  if (s >= servers_.size()) throw std::out_of_range("hrtree::tree::set_capacity: no such server");
  server_state& st = servers_[s];
  total_capacity_ = total_capacity_ - st.capacity + blocks;
  st.capacity = blocks;
  if (config_.memory == memory_model::lru_blocks && st.count > st.capacity) {
    touch_mutation();
    evict(s, st.count - st.capacity);
  }
}

std::size_t tree::capacity(server s) const noexcept {
  return s < servers_.size() ? servers_[s].capacity : 0;
}

void tree::clear(server s) {
  if (s >= servers_.size()) throw std::out_of_range("hrtree::tree::clear: no such server");
  touch_mutation();
  server_state& st = servers_[s];
  while (st.head != nil) drop_holding(st.head);
  cached_ -= st.count;
  st.count = 0;
  for (auto& p : st.recent) p.clear();
  st.recent_next = st.recent_size = 0;
}

void tree::remove(server s) {
  clear(s);
  servers_[s].active = false;
  for (auto& p : servers_[s].recent) std::vector<block_key>().swap(p);
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
  std::size_t b = heads_.memory_bytes() + segs_.capacity() * sizeof(segment) +
                  holds_.capacity() * sizeof(holding) + servers_.capacity() * sizeof(server_state) +
                  mark_.capacity() * sizeof(std::uint32_t);
  for (const auto& g : segs_) b += g.keys.capacity() * sizeof(block_key) + g.holders.capacity() * sizeof(seg_holder);
  for (const auto& st : servers_)
    for (const auto& p : st.recent) b += p.capacity() * sizeof(block_key);
  return b;
}

bool tree::check() const {
  // Where every stored key lives, to find each segment's parent block.
  std::unordered_map<block_key, std::pair<std::uint32_t, std::uint32_t>> where;
  std::size_t distinct = 0, live = 0;
  for (std::uint32_t g = 0; g < segs_.size(); ++g) {
    const auto& keys = segs_[g].keys;
    if (keys.empty()) continue;
    ++live;
    distinct += keys.size();
    for (std::uint32_t i = 0; i < keys.size(); ++i)
      if (!where.emplace(keys[i], std::pair{g, i}).second) return false;
    const block_key k = keys[0];
    const std::size_t slot = heads_.find(k, [k](const head_slot& e) { return e.key == k; });
    if (slot == heads_.npos || heads_.at(slot).seg != g) return false;
    std::uint32_t most = 0;
    for (std::uint32_t i = 0; i < segs_[g].holders.size(); ++i) {
      const seg_holder& x = segs_[g].holders[i];
      if (x.hold >= holds_.size() || holds_[x.hold].seg != g || holds_[x.hold].pos != i ||
          holds_[x.hold].server != x.server || x.held == 0 || x.held > keys.size())
        return false;
      most = std::max(most, x.held);
    }
    if (most != keys.size()) return false;  // no unheld blocks linger
  }
  if (distinct != distinct_ || heads_.size() != live) return false;

  std::size_t total = 0;
  for (std::uint32_t s = 0; s < servers_.size(); ++s) {
    const server_state& st = servers_[s];
    std::size_t count = 0;
    std::uint32_t prev = nil;
    for (std::uint32_t h = st.head; h != nil; h = holds_[h].next) {
      const holding& x = holds_[h];
      if (x.prev != prev || x.server != s || find_holding(x.seg, s) != h) return false;
      // Prefix closure: s holds the parent block of every segment it holds.
      const block_key pk = segs_[x.seg].parent_key;
      if (pk != 0) {
        const auto it = where.find(pk);
        if (it == where.end()) return false;
        const auto [pg, pi] = it->second;
        if (pi + 1 != segs_[pg].keys.size()) return false;  // children hang at segment ends
        const std::uint32_t ph = find_holding(pg, s);
        if (ph == nil || held(ph) != segs_[pg].keys.size()) return false;
      }
      count += held(h);
      prev = h;
    }
    if (prev != st.tail || count != st.count) return false;
    if (config_.memory == memory_model::lru_blocks && st.count > st.capacity) return false;
    total += count;
  }
  return total == cached_;
}

}  // namespace planetserve::hrtree
