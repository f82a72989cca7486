// SPDX-License-Identifier: MIT
// kvevents::block_index: which blocks one server holds, exactly, as its KV events say (sans-io).
#pragma once

#include <planetserve/hrtree/block_hasher.hpp>
#include <planetserve/kvevents/event.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>

namespace planetserve::kvevents {

/// What applying one event did.
enum class apply_status : std::uint8_t {
  applied,         ///< the index follows the event
  unknown_parent,  ///< BlockStored chained on a block the index never saw: its blocks are left out
  unknown_block,   ///< BlockRemoved of a block the index never saw (nothing to remove)
  bad_block_size,  ///< BlockStored whose block size or token count does not fit the index's block size
};

/// One server's prefix cache as its events describe it. Blocks are keyed by the router's
/// own chained hash of their token ids (hrtree::block_hasher), so a prompt's keys match
/// them directly and vLLM's hash function (sha256, seeds, extra keys) never matters; the
/// server's hashes serve only to name blocks for BlockRemoved and parent links. A block
/// stored twice (vLLM may cache two copies of one prefix) is held until removed twice.
class block_index {
 public:
  /// An index keyed like `hasher`, whose block size must be the server's.
  explicit block_index(hrtree::block_hasher hasher) : hasher_(hasher) {}

  /// Applies one event.
  apply_status apply(const event& e);

  /// How many leading `keys` (a prompt's, from the same hasher) the server holds.
  std::size_t match(std::span<const hrtree::block_key> keys) const;

  /// Whether the server holds the block keyed `key`.
  bool holds(hrtree::block_key key) const { return held_.count(key) != 0; }

  /// Blocks held.
  std::size_t size() const noexcept { return held_.size(); }

  /// Forgets everything (AllBlocksCleared, or a publisher that restarted).
  void clear() noexcept;

  /// The hasher the keys come from.
  const hrtree::block_hasher& hasher() const noexcept { return hasher_; }

 private:
  struct named_block {
    hrtree::block_key key = 0;
    std::uint32_t copies = 0;
  };
  apply_status store(const block_stored& s);
  apply_status remove(const block_removed& r);

  hrtree::block_hasher hasher_;
  std::unordered_map<block_hash, named_block> by_hash_;     // server's name -> our key
  std::unordered_map<hrtree::block_key, std::uint32_t> held_;  // our key -> copies held
};

}  // namespace planetserve::kvevents
