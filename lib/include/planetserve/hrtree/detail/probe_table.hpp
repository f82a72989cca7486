// SPDX-License-Identifier: MIT
// probe_table: a linear-probing hash table of small slots, sized exactly, with backward-shift erase.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace planetserve::hrtree::detail {

__extension__ typedef unsigned __int128 uint128_t;

/// Maps a uniform 64-bit hash onto [0, n) with one multiply (Lemire's reduction).
inline std::size_t reduce(std::uint64_t h, std::size_t n) noexcept {
  return static_cast<std::size_t>((static_cast<uint128_t>(h) * n) >> 64);
}

/// Open addressing over a plain vector of `Slot`s. Keys are already uniform 64-bit hashes,
/// so a slot's home is a multiply-shift of its key onto [0, size) and the size need not be a
/// power of two: that lets the tree size a table for exactly its capacity (bytes per block
/// is a target). Erase shifts later entries back instead of leaving tombstones, so a table
/// under an endless stream of inserts and erases never degrades nor needs a sweep.
///
/// `Traits` provides: `static bool empty(const Slot&)`, `static Slot empty_slot()`,
/// `static std::uint64_t key(const Slot&)` (a uniform hash that picks the home slot).
template <class Slot, class Traits>
class probe_table {
 public:
  /// Largest share of slots in use before the table grows: linear probing stays short
  /// (about 2.5 probes for a hit, 8.5 for a miss) up to here.
  static constexpr double max_load = 0.75;

  std::size_t size() const noexcept { return count_; }
  std::size_t slot_count() const noexcept { return slots_.size(); }
  std::size_t memory_bytes() const noexcept { return slots_.capacity() * sizeof(Slot); }

  /// Grow so that `n` entries fit without another resize, but never beyond what `n` needs.
  void reserve(std::size_t n) {
    const std::size_t want = slots_for(n);
    if (want > slots_.size()) rehash(want);
  }

  /// The slot index whose entry satisfies `eq(slot)`, starting at `key`'s home; or npos.
  template <class Eq>
  std::size_t find(std::uint64_t key, Eq&& eq) const noexcept {
    const std::size_t n = slots_.size();
    if (n == 0) return npos;
    std::size_t i = home(key, n);
    for (;;) {
      const Slot& s = slots_[i];
      if (Traits::empty(s)) return npos;
      if (eq(s)) return i;
      if (++i == n) i = 0;
    }
  }

  Slot& at(std::size_t i) noexcept { return slots_[i]; }
  const Slot& at(std::size_t i) const noexcept { return slots_[i]; }

  /// Places `slot` (whose key is not present) and returns its index. Grows first if needed.
  /// `limit` is the entry count the owner expects at most: growth steps toward it, so a table
  /// that has reached its owner's capacity is sized for exactly that capacity.
  std::size_t insert_new(const Slot& slot, std::size_t limit) {
    if (count_ + 1 > static_cast<std::size_t>(static_cast<double>(slots_.size()) * max_load)) {
      std::size_t want = slots_.size() < 16 ? 16 : slots_.size() * 2;
      const std::size_t cap = slots_for(limit);
      if (cap > slots_.size() && want > cap) want = cap;
      if (want < slots_for(count_ + 1)) want = slots_for(count_ + 1);
      rehash(want);
    }
    const std::size_t n = slots_.size();
    std::size_t i = home(Traits::key(slot), n);
    while (!Traits::empty(slots_[i]))
      if (++i == n) i = 0;
    slots_[i] = slot;
    ++count_;
    return i;
  }

  /// Empties slot `i`, shifting back any entry whose probe run passed through it.
  void erase_at(std::size_t i) noexcept {
    const std::size_t n = slots_.size();
    std::size_t j = i;
    for (;;) {
      if (++j == n) j = 0;
      if (Traits::empty(slots_[j])) break;
      const std::size_t k = home(Traits::key(slots_[j]), n);
      // Entry j may move to i only if its home is not cyclically inside (i, j].
      const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = Traits::empty_slot();
    --count_;
  }

  void clear() noexcept {
    for (auto& s : slots_) s = Traits::empty_slot();
    count_ = 0;
  }

  /// Drops every slot and the memory behind them.
  void release() noexcept {
    std::vector<Slot>().swap(slots_);
    count_ = 0;
  }

  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& s : slots_)
      if (!Traits::empty(s)) fn(s);
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

 private:
  static std::size_t home(std::uint64_t key, std::size_t n) noexcept { return reduce(key, n); }

  static std::size_t slots_for(std::size_t entries) noexcept {
    constexpr std::size_t huge = std::size_t{1} << 40;
    if (entries > huge) entries = huge;
    return static_cast<std::size_t>(static_cast<double>(entries) / max_load) + 1;
  }

  void rehash(std::size_t want) {
    std::vector<Slot> old(want, Traits::empty_slot());
    old.swap(slots_);
    const std::size_t n = slots_.size();
    for (const auto& s : old) {
      if (Traits::empty(s)) continue;
      std::size_t i = home(Traits::key(s), n);
      while (!Traits::empty(slots_[i]))
        if (++i == n) i = 0;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::size_t count_ = 0;
};

}  // namespace planetserve::hrtree::detail
