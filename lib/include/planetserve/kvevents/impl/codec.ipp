// SPDX-License-Identifier: MIT
// Compiled body of the KV-event codec.
#pragma once

#include <planetserve/kvevents/codec.hpp>
#include <planetserve/kvevents/detail/msgpack.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <string>
#include <string_view>

namespace planetserve::kvevents {
namespace {

using detail::msgpack_kind;
using detail::msgpack_reader;
using detail::msgpack_writer;

void write_hashes(msgpack_writer& w, const std::vector<block_hash>& hashes) {
  w.array(hashes.size());
  for (auto h : hashes) w.uint(h);
}

void write_optional_str(msgpack_writer& w, const std::optional<std::string>& s) {
  if (s) w.str(*s); else w.nil();
}

void write_event(msgpack_writer& w, const event& e, struct_form form) {
  const bool map = form == struct_form::map;
  if (const auto* s = std::get_if<block_stored>(&e)) {
    if (map) { w.map(7); w.str("type"); } else { w.array(7); }
    w.str("BlockStored");
    if (map) w.str("block_hashes");
    write_hashes(w, s->block_hashes);
    if (map) w.str("parent_block_hash");
    if (s->parent_block_hash) w.uint(*s->parent_block_hash); else w.nil();
    if (map) w.str("token_ids");
    w.array(s->token_ids.size());
    for (auto t : s->token_ids) w.uint(t);
    if (map) w.str("block_size");
    w.uint(s->block_size);
    if (map) w.str("lora_id");
    if (s->lora_id) w.sint(*s->lora_id); else w.nil();
    if (map) w.str("medium");
    write_optional_str(w, s->medium);
  } else if (const auto* r = std::get_if<block_removed>(&e)) {
    if (map) { w.map(3); w.str("type"); } else { w.array(3); }
    w.str("BlockRemoved");
    if (map) w.str("block_hashes");
    write_hashes(w, r->block_hashes);
    if (map) w.str("medium");
    write_optional_str(w, r->medium);
  } else {
    if (map) { w.map(1); w.str("type"); } else { w.array(1); }
    w.str("AllBlocksCleared");
  }
}

// Reads one field's value into the event being decoded; false: malformed.
class batch_decoder {
 public:
  batch_decoder(std::span<const std::uint8_t> in, diagnostics& diag) : r_(in), diag_(diag) {}

  result<event_batch> run() {
    event_batch b;
    if (!read_batch(b)) return error::malformed_line;
    if (!r_.at_end()) return fail("trailing bytes after the batch");
    return b;
  }

 private:
  bool fail_(std::string what) {
    if (diag_.message.empty()) diag_.message = "KV event batch: " + std::move(what);
    return false;
  }
  error fail(std::string what) {
    fail_(std::move(what));
    return error::malformed_line;
  }

  bool read_batch(event_batch& b) {
    if (r_.peek() == msgpack_kind::array) {
      const auto n = r_.array();
      if (!n || *n < 2) return fail_("expected [ts, events, ...]");
      if (!read_ts(b) || !read_events(b)) return false;
      if (*n >= 3 && !read_rank(b)) return false;
      for (std::size_t i = 3; i < *n; ++i)
        if (!r_.skip()) return fail_("malformed trailing field");
      return true;
    }
    const auto n = r_.map();
    if (!n) return fail_("not a msgpack array or map");
    bool have_ts = false, have_events = false;
    for (std::size_t i = 0; i < *n; ++i) {
      const auto key = r_.string();
      if (!key) return fail_("a map key is not a string");
      if (*key == "ts") {
        if (!read_ts(b)) return false;
        have_ts = true;
      } else if (*key == "events") {
        if (!read_events(b)) return false;
        have_events = true;
      } else if (*key == "data_parallel_rank") {
        if (!read_rank(b)) return false;
      } else if (!r_.skip()) {
        return fail_("malformed value of field '" + std::string(*key) + "'");
      }
    }
    if (!have_ts || !have_events) return fail_("missing ts or events");
    return true;
  }

  bool read_ts(event_batch& b) {
    const auto ts = r_.number();
    if (!ts) return fail_("ts is not a number");
    b.ts = *ts;
    return true;
  }

  bool read_rank(event_batch& b) {
    if (r_.nil()) return true;
    const auto v = r_.integer();
    if (!v) return fail_("data_parallel_rank is not an integer");
    b.data_parallel_rank = static_cast<std::int64_t>(v->bits);
    return true;
  }

  bool read_events(event_batch& b) {
    const auto n = r_.array();
    if (!n) return fail_("events is not an array");
    b.events.reserve(*n);
    for (std::size_t i = 0; i < *n; ++i)
      if (!read_event(b)) return false;
    return true;
  }

  bool read_event(event_batch& b) {
    if (r_.peek() == msgpack_kind::array) {
      const auto n = r_.array();
      if (!n || *n == 0) return fail_("an event array has no tag");
      const auto tag = r_.string();
      if (!tag) return fail_("an event's tag is not a string");
      return read_positional(b, *tag, *n - 1);
    }
    const auto n = r_.map();
    if (!n) return fail_("an event is neither an array nor a map");
    return read_named(b, *n);
  }

  // Fields by position after the tag: vLLM adds fields at the end, and msgspec's
  // omit_defaults drops trailing ones left at their default.
  bool read_positional(event_batch& b, std::string_view tag, std::size_t fields) {
    std::size_t used = 0;
    auto next = [&] { return used < fields ? (++used, true) : false; };
    if (tag == "BlockStored") {
      block_stored s;
      if (fields < 4) return fail_("BlockStored with " + std::to_string(fields) + " fields (need at least 4)");
      next(); if (!read_hashes(s.block_hashes)) return false;
      next(); if (!read_parent(s.parent_block_hash)) return false;
      next(); if (!read_tokens(s.token_ids)) return false;
      next(); if (!read_block_size(s.block_size)) return false;
      if (next() && !read_lora(s.lora_id)) return false;
      if (next() && !read_medium(s.medium)) return false;
      if (!skip_rest(fields - used)) return false;
      b.events.emplace_back(std::move(s));
      return true;
    }
    if (tag == "BlockRemoved") {
      block_removed s;
      if (fields < 1) return fail_("BlockRemoved without block_hashes");
      next(); if (!read_hashes(s.block_hashes)) return false;
      if (next() && !read_medium(s.medium)) return false;
      if (!skip_rest(fields - used)) return false;
      b.events.emplace_back(std::move(s));
      return true;
    }
    if (!skip_rest(fields)) return false;
    if (tag == "AllBlocksCleared") b.events.emplace_back(all_blocks_cleared{});
    else ++b.ignored_events;
    return true;
  }

  bool read_named(event_batch& b, std::size_t pairs) {
    // The tag may come anywhere among the fields: read them all, then decide.
    std::optional<std::string> tag;
    block_stored s;
    bool have_hashes = false, have_tokens = false;
    for (std::size_t i = 0; i < pairs; ++i) {
      const auto key = r_.string();
      if (!key) return fail_("an event's map key is not a string");
      bool ok = true;
      if (*key == "type") {
        const auto t = r_.string();
        if (!t) return fail_("an event's type is not a string");
        tag = std::string(*t);
      } else if (*key == "block_hashes") {
        ok = read_hashes(s.block_hashes);
        have_hashes = true;
      } else if (*key == "parent_block_hash") {
        ok = read_parent(s.parent_block_hash);
      } else if (*key == "token_ids") {
        ok = read_tokens(s.token_ids);
        have_tokens = true;
      } else if (*key == "block_size") {
        ok = read_block_size(s.block_size);
      } else if (*key == "lora_id") {
        ok = read_lora(s.lora_id);
      } else if (*key == "medium") {
        ok = read_medium(s.medium);
      } else if (!r_.skip()) {
        return fail_("malformed value of event field '" + std::string(*key) + "'");
      }
      if (!ok) return false;
    }
    if (!tag) return fail_("an event map without \"type\"");
    if (*tag == "BlockStored") {
      if (!have_hashes || !have_tokens) return fail_("BlockStored without block_hashes or token_ids");
      b.events.emplace_back(std::move(s));
    } else if (*tag == "BlockRemoved") {
      if (!have_hashes) return fail_("BlockRemoved without block_hashes");
      b.events.emplace_back(block_removed{std::move(s.block_hashes), std::move(s.medium)});
    } else if (*tag == "AllBlocksCleared") {
      b.events.emplace_back(all_blocks_cleared{});
    } else {
      ++b.ignored_events;
    }
    return true;
  }

  bool skip_rest(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      if (!r_.skip()) return fail_("malformed event field");
    return true;
  }

  bool read_hash(block_hash& out) {
    if (r_.peek() == msgpack_kind::integer) {
      out = r_.integer()->bits;
      return true;
    }
    const auto bytes = r_.bytes();
    if (!bytes) return fail_("a block hash is neither an integer nor bytes");
    out = XXH3_64bits(bytes->data(), bytes->size());
    return true;
  }

  bool read_hashes(std::vector<block_hash>& out) {
    const auto n = r_.array();
    if (!n) return fail_("block_hashes is not an array");
    out.resize(*n);
    for (auto& h : out)
      if (!read_hash(h)) return false;
    return true;
  }

  bool read_parent(std::optional<block_hash>& out) {
    if (r_.nil()) return true;
    block_hash h = 0;
    if (!read_hash(h)) return false;
    out = h;
    return true;
  }

  bool read_tokens(std::vector<tokenize::token_id>& out) {
    const auto n = r_.array();
    if (!n) return fail_("token_ids is not an array");
    out.resize(*n);
    for (auto& t : out) {
      const auto v = r_.integer();
      if (!v || v->negative || v->bits > 0xFFFF'FFFFu) return fail_("a token id is not a 32-bit unsigned integer");
      t = static_cast<tokenize::token_id>(v->bits);
    }
    return true;
  }

  bool read_block_size(std::uint32_t& out) {
    const auto v = r_.integer();
    if (!v || v->negative || v->bits == 0 || v->bits > 0xFFFF'FFFFu) return fail_("block_size is not a positive integer");
    out = static_cast<std::uint32_t>(v->bits);
    return true;
  }

  bool read_lora(std::optional<std::int64_t>& out) {
    if (r_.nil()) return true;
    const auto v = r_.integer();
    if (!v) return fail_("lora_id is not an integer");
    out = static_cast<std::int64_t>(v->bits);
    return true;
  }

  bool read_medium(std::optional<std::string>& out) {
    if (r_.nil()) return true;
    const auto s = r_.string();
    if (!s) return fail_("medium is not a string");
    out = std::string(*s);
    return true;
  }

  msgpack_reader r_;
  diagnostics& diag_;
};

}  // namespace

std::vector<std::uint8_t> encode_batch(const event_batch& batch, struct_form form) {
  std::vector<std::uint8_t> out;
  msgpack_writer w(out);
  const bool map = form == struct_form::map;
  const std::size_t fields = batch.data_parallel_rank ? 3 : 2;
  if (map) w.map(fields); else w.array(fields);
  if (map) w.str("ts");
  w.float64(batch.ts);
  if (map) w.str("events");
  w.array(batch.events.size());
  for (const auto& e : batch.events) write_event(w, e, form);
  if (batch.data_parallel_rank) {
    if (map) w.str("data_parallel_rank");
    w.sint(*batch.data_parallel_rank);
  }
  return out;
}

result<event_batch> decode_batch(std::span<const std::uint8_t> payload, diagnostics& diag) {
  return batch_decoder(payload, diag).run();
}

std::array<std::uint8_t, 8> encode_sequence(std::int64_t seq) noexcept {
  std::array<std::uint8_t, 8> out{};
  const auto u = static_cast<std::uint64_t>(seq);
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(u >> (8 * (7 - i)));
  return out;
}

std::optional<std::int64_t> decode_sequence(std::span<const std::uint8_t> frame) noexcept {
  if (frame.size() != 8) return std::nullopt;
  std::uint64_t u = 0;
  for (auto b : frame) u = (u << 8) | b;
  return static_cast<std::int64_t>(u);
}

}  // namespace planetserve::kvevents
