// SPDX-License-Identifier: MIT
// node_heap: an indexed binary min-heap of node indices whose keys live outside the heap.
#pragma once

#include <planetserve/dispatch/decision.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace planetserve::dispatch::detail {

/// A set of nodes ordered by a caller's strict weak order `less(a, b)` over node indices,
/// with the least on top. Keys are not stored: `less` reads the caller's state, and after a
/// node's key changes the caller calls update(node) before the next operation. Every
/// operation but clear() is O(log size) and allocates nothing once reserved.
class node_heap {
 public:
  /// An empty heap for nodes 0..nodes-1.
  void reset(std::size_t nodes) {
    pos_.assign(nodes, absent);
    heap_.clear();
    heap_.reserve(nodes);
  }
  /// Number of nodes in the heap.
  std::size_t size() const noexcept { return heap_.size(); }
  /// Whether no node is in the heap.
  bool empty() const noexcept { return heap_.empty(); }
  /// Whether `n` is in the heap.
  bool contains(node_index n) const noexcept { return pos_[n] != absent; }
  /// The least node (the heap must not be empty).
  node_index top() const noexcept { return heap_.front(); }

  /// Adds `n` (not in the heap).
  template <class Less>
  void push(node_index n, Less&& less) {
    pos_[n] = static_cast<std::uint32_t>(heap_.size());
    heap_.push_back(n);
    up(pos_[n], less);
  }
  /// Removes `n` if it is in the heap.
  template <class Less>
  void erase(node_index n, Less&& less) {
    const std::uint32_t i = pos_[n];
    if (i == absent) return;
    const node_index last = heap_.back();
    heap_.pop_back();
    pos_[n] = absent;
    if (last == n) return;
    heap_[i] = last;
    pos_[last] = i;
    fix(i, less);
  }
  /// `n`'s key changed (either way): restores the order. No-op if `n` is not in the heap.
  template <class Less>
  void update(node_index n, Less&& less) {
    if (pos_[n] != absent) fix(pos_[n], less);
  }

 private:
  static constexpr std::uint32_t absent = 0xFFFF'FFFFu;

  template <class Less>
  void fix(std::uint32_t i, Less& less) {
    if (i > 0 && less(heap_[i], heap_[(i - 1) / 2])) up(i, less); else down(i, less);
  }
  template <class Less>
  void up(std::uint32_t i, Less& less) {
    while (i > 0) {
      const std::uint32_t parent = (i - 1) / 2;
      if (!less(heap_[i], heap_[parent])) break;
      swap_at(i, parent);
      i = parent;
    }
  }
  template <class Less>
  void down(std::uint32_t i, Less& less) {
    const auto n = static_cast<std::uint32_t>(heap_.size());
    for (;;) {
      const std::uint32_t l = 2 * i + 1;
      if (l >= n) break;
      std::uint32_t m = l;
      if (l + 1 < n && less(heap_[l + 1], heap_[l])) m = l + 1;
      if (!less(heap_[m], heap_[i])) break;
      swap_at(i, m);
      i = m;
    }
  }
  void swap_at(std::uint32_t a, std::uint32_t b) noexcept {
    std::swap(heap_[a], heap_[b]);
    pos_[heap_[a]] = a;
    pos_[heap_[b]] = b;
  }

  std::vector<node_index> heap_;
  std::vector<std::uint32_t> pos_;  // each node's place in heap_, or absent
};

}  // namespace planetserve::dispatch::detail
