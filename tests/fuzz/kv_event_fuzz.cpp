// SPDX-License-Identifier: MIT
// libFuzzer entry for the KV-event decoder: no crash; a decoded batch re-encodes and decodes to the same events.
#include <planetserve/hrtree/block_hasher.hpp>
#include <planetserve/kvevents/block_index.hpp>
#include <planetserve/kvevents/codec.hpp>

#include <cstdint>
#include <cstdlib>
#include <span>

namespace kv = planetserve::kvevents;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  planetserve::diagnostics d;
  auto b = kv::decode_batch(in, d);
  if (!b) {
    if (d.message.empty()) std::abort();  // every refusal says why
    return 0;
  }
  // Whatever decoded must survive our own encoding in both forms unchanged.
  for (auto form : {kv::struct_form::array, kv::struct_form::map}) {
    planetserve::diagnostics d2;
    auto again = kv::decode_batch(kv::encode_batch(*b, form), d2);
    if (!again || again->events.size() != b->events.size()) std::abort();
    for (std::size_t i = 0; i < b->events.size(); ++i) {
      if (again->events[i].index() != b->events[i].index()) std::abort();
      if (const auto* s = std::get_if<kv::block_stored>(&b->events[i])) {
        const auto& t = std::get<kv::block_stored>(again->events[i]);
        if (t.block_hashes != s->block_hashes || t.token_ids != s->token_ids || t.parent_block_hash != s->parent_block_hash)
          std::abort();
      }
    }
  }
  // And an index fed with it must not crash whatever the events say.
  kv::block_index idx(planetserve::hrtree::block_hasher(16, 0));
  for (const auto& e : b->events) (void)idx.apply(e);
  return 0;
}
