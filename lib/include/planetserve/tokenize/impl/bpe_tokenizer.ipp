// SPDX-License-Identifier: MIT
// Compiled body of tokenize::bpe_tokenizer: tokenizer.json loading and byte-level BPE encoding.
#pragma once

#include <planetserve/tokenize/added_token_matcher.hpp>
#include <planetserve/tokenize/bpe_tokenizer.hpp>
#include <planetserve/tokenize/detail/split_regex.hpp>
#include <planetserve/tokenize/utf8_repair.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace planetserve::tokenize {
namespace detail {

namespace bjson = boost::json;

constexpr token_id no_id = std::numeric_limits<token_id>::max();

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return XXH3_64bits(s.data(), s.size()); }
};
struct string_equal {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};
template <class V>
using string_map = boost::unordered_flat_map<std::string, V, string_hash, string_equal>;

/// GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68
/// bytes take the code points from U+0100 on, in byte order. Vocabulary entries are spelled
/// in it; we store them as the raw bytes they stand for.
inline std::array<char32_t, 256> byte_to_char() {
  std::array<char32_t, 256> m{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    m[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
  }
  return m;
}

inline void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

/// Decodes one code point of valid UTF-8 at s[i], advancing i.
inline char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  if (i + static_cast<std::size_t>(len) > s.size()) len = static_cast<int>(s.size() - i);
  char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0x3F);
  i += static_cast<std::size_t>(len);
  return c;
}

// JavaScript's \s (the reference runs the pattern as a JavaScript `u` regex): PCRE2's
// Unicode \s also holds U+0085 and U+180E and lacks U+FEFF.
constexpr std::string_view js_space_members =
    "\\t\\n\\x0B\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";

inline bool is_js_space(char32_t c) noexcept {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

/// The pattern as the reference implementation runs it, in PCRE2 syntax: Llama 3's
/// case-insensitive contraction group matches ASCII letters only there (it is rewritten into
/// an explicit alternation), and \s / \S mean JavaScript's white space.
inline std::string reference_pattern(std::string_view pattern) {
  std::string p(pattern);
  constexpr std::string_view contractions = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
  for (std::size_t at = p.find(contractions); at != std::string::npos; at = p.find(contractions, at))
    p.replace(at, contractions.size(), "(?:'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))");
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      if (e == 's') {
        out += in_class ? std::string(js_space_members) : "[" + std::string(js_space_members) + "]";
      } else if (e == 'S' && !in_class) {
        out += "[^" + std::string(js_space_members) + "]";
      } else {
        out += c;
        out += e;
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

// GPT-2's pre-tokenizer pattern, which a ByteLevel step with use_regex applies.
constexpr std::string_view gpt2_pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct pre_step {
  enum class kind { split, byte_level } what = kind::split;
  split_regex re;
  bool has_regex = false;
  bool removed = false;  // Split behavior "Removed": the matches are dropped
  bool invert = false;   // Split invert: only the matches are kept
  bool add_prefix_space = false;
};

struct merge_entry {
  std::uint32_t rank;
  token_id merged;
};

struct cached_ids {
  std::uint32_t offset;
  std::uint32_t length;
};

struct load_error {
  std::string source;
  diagnostics* diag;

  boost::system::error_code operator()(error e, const std::string& what) const {
    diag->message = source + ": " + what;
    return make_error_code(e);
  }
};

inline std::string quoted(bjson::string_view s) { return "\"" + std::string(s.data(), s.size()) + "\""; }

}  // namespace detail

struct bpe_tokenizer::impl {
  detail::string_map<token_id> vocab;    // raw bytes -> id (entries of the byte-level alphabet)
  detail::string_map<token_id> spelled;  // the file's spelling -> id, added tokens included
  boost::unordered_flat_map<std::uint64_t, detail::merge_entry> ranks;  // (left id, right id) -> rank, merged id
  std::array<token_id, 256> byte_id{};
  std::array<std::vector<token_id>, 256> byte_fallback_ids;  // for a byte without an id of its own
  added_token_matcher added;
  std::vector<bool> added_lstrip, added_rstrip;
  std::vector<detail::pre_step> steps;
  std::vector<token_id> prefix;
  bool ignore_merges = false;
  std::size_t vocab_size = 0;

  // Encoding state, under `mutex`.
  mutable std::mutex mutex;
  mutable detail::string_map<detail::cached_ids> cache;
  mutable std::vector<token_id> arena;
  mutable std::string repaired;

  struct symbol {
    token_id id;
    std::int32_t prev, next;
    unsigned char first;  // the byte it started as (for byte fallback of unmerged bytes)
  };
  struct candidate {
    std::uint32_t rank;
    std::int32_t pos;
    token_id left, right;
    bool operator>(const candidate& o) const noexcept { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  mutable std::vector<symbol> syms;
  mutable std::vector<candidate> heap;

  static constexpr std::size_t max_cached_piece = 256;
  static constexpr std::size_t max_cache_entries = 1u << 18;

  void encode_text(std::string_view text, std::vector<token_id>& out) const;
  void pre_tokenize(std::size_t step, std::string_view piece, std::vector<token_id>& out) const;
  void split(std::size_t step, std::string_view piece, std::vector<token_id>& out) const;
  void model(std::string_view piece, std::vector<token_id>& out) const;
  void merge(std::string_view piece, std::vector<token_id>& out) const;
  void push_pair(std::int32_t i) const;
};

void bpe_tokenizer::impl::push_pair(std::int32_t i) const {
  if (i < 0) return;
  const std::int32_t j = syms[static_cast<std::size_t>(i)].next;
  if (j < 0) return;
  const token_id l = syms[static_cast<std::size_t>(i)].id, r = syms[static_cast<std::size_t>(j)].id;
  if (l == detail::no_id || r == detail::no_id) return;
  auto it = ranks.find((static_cast<std::uint64_t>(l) << 32) | r);
  if (it == ranks.end()) return;
  heap.push_back(candidate{it->second.rank, i, l, r});
  std::push_heap(heap.begin(), heap.end(), std::greater<>{});
}

// Lowest rank first, leftmost among equal ranks: the order Hugging Face's BPE merges in.
void bpe_tokenizer::impl::merge(std::string_view piece, std::vector<token_id>& out) const {
  const auto n = static_cast<std::int32_t>(piece.size());
  syms.clear();
  heap.clear();
  for (std::int32_t i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(piece[static_cast<std::size_t>(i)]);
    syms.push_back(symbol{byte_id[b], i - 1, i + 1 < n ? i + 1 : -1, b});
  }
  for (std::int32_t i = 0; i + 1 < n; ++i) push_pair(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    const candidate c = heap.back();
    heap.pop_back();
    symbol& s = syms[static_cast<std::size_t>(c.pos)];
    if (s.id != c.left || s.next < 0) continue;
    symbol& t = syms[static_cast<std::size_t>(s.next)];
    if (t.id != c.right) continue;
    s.id = ranks.find((static_cast<std::uint64_t>(c.left) << 32) | c.right)->second.merged;
    t.id = detail::no_id;  // gone
    s.next = t.next;
    if (t.next >= 0) syms[static_cast<std::size_t>(t.next)].prev = c.pos;
    push_pair(s.prev);
    push_pair(c.pos);
  }
  for (std::int32_t i = n > 0 ? 0 : -1; i >= 0; i = syms[static_cast<std::size_t>(i)].next) {
    const symbol& s = syms[static_cast<std::size_t>(i)];
    if (s.id != detail::no_id)
      out.push_back(s.id);
    else
      out.insert(out.end(), byte_fallback_ids[s.first].begin(), byte_fallback_ids[s.first].end());
  }
}

void bpe_tokenizer::impl::model(std::string_view piece, std::vector<token_id>& out) const {
  if (piece.empty()) return;
  if (ignore_merges) {
    if (auto it = vocab.find(piece); it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = piece.size() < max_cached_piece;
  if (cacheable) {
    if (auto it = cache.find(piece); it != cache.end()) {
      const auto* p = arena.data() + it->second.offset;
      out.insert(out.end(), p, p + it->second.length);
      return;
    }
  }
  const std::size_t before = out.size();
  merge(piece, out);
  if (cacheable) {
    if (cache.size() >= max_cache_entries) {
      cache.clear();
      arena.clear();
    }
    const auto offset = static_cast<std::uint32_t>(arena.size());
    arena.insert(arena.end(), out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
    cache.emplace(std::string(piece), detail::cached_ids{offset, static_cast<std::uint32_t>(out.size() - before)});
  }
}

void bpe_tokenizer::impl::pre_tokenize(std::size_t step, std::string_view piece, std::vector<token_id>& out) const {
  if (piece.empty()) return;
  if (step == steps.size()) return model(piece, out);
  const detail::pre_step& s = steps[step];
  if (s.what == detail::pre_step::kind::byte_level && s.add_prefix_space && piece.front() != ' ') {
    // The reference prefixes every piece that reaches this step.
    std::string spaced;
    spaced.reserve(piece.size() + 1);
    spaced += ' ';
    spaced.append(piece);
    return split(step, spaced, out);
  }
  split(step, piece, out);
}

void bpe_tokenizer::impl::split(std::size_t step, std::string_view piece, std::vector<token_id>& out) const {
  const detail::pre_step& s = steps[step];
  if (!s.has_regex) return pre_tokenize(step + 1, piece, out);
  // As the reference splits: the text between matches is a piece too (unless inverted), the
  // matches are pieces unless removed, and an empty match splits without making a piece.
  std::size_t from = 0, gap = 0, b = 0, e = 0;
  while (from <= piece.size() && s.re.find(piece, from, b, e)) {
    if (!s.invert && gap < b) pre_tokenize(step + 1, piece.substr(gap, b - gap), out);
    if (s.invert || !s.removed) pre_tokenize(step + 1, piece.substr(b, e - b), out);
    gap = e;
    if (e == b) {
      if (e >= piece.size()) break;
      std::size_t k = e;
      detail::next_code_point(piece, k);
      from = k;
    } else {
      from = e;
    }
  }
  if (!s.invert && gap < piece.size()) pre_tokenize(step + 1, piece.substr(gap), out);
}

void bpe_tokenizer::impl::encode_text(std::string_view text, std::vector<token_id>& out) const {
  // Sections between added tokens, trimmed where a neighbouring added token strips.
  struct section {
    std::size_t begin, end;
    std::size_t added;  // npos: plain text
  };
  constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::vector<section> secs;
  std::size_t pos = 0;
  while (auto m = added.find(text, pos)) {
    if (m->begin > pos) secs.push_back({pos, m->begin, npos});
    secs.push_back({m->begin, m->end, m->index});
    pos = m->end;
  }
  if (pos < text.size()) secs.push_back({pos, text.size(), npos});
  for (std::size_t k = 0; k < secs.size(); ++k) {
    if (secs[k].added == npos) continue;
    if (added_lstrip[secs[k].added] && k > 0 && secs[k - 1].added == npos) {
      auto& p = secs[k - 1];
      while (p.end > p.begin) {
        // Step back over one code point and test it.
        std::size_t start = p.end - 1;
        while (start > p.begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        std::size_t i = start;
        if (!detail::is_js_space(detail::next_code_point(text, i))) break;
        p.end = start;
      }
    }
    if (added_rstrip[secs[k].added] && k + 1 < secs.size() && secs[k + 1].added == npos) {
      auto& nx = secs[k + 1];
      while (nx.begin < nx.end) {
        std::size_t i = nx.begin;
        if (!detail::is_js_space(detail::next_code_point(text, i))) break;
        nx.begin = i;
      }
    }
  }
  for (const auto& s : secs) {
    if (s.added != npos)
      out.push_back(added.id(s.added));
    else
      pre_tokenize(0, text.substr(s.begin, s.end - s.begin), out);
  }
}

std::string byte_level_spelling(std::string_view raw) {
  static const std::array<char32_t, 256> b2c = detail::byte_to_char();
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) detail::append_utf8(b2c[static_cast<unsigned char>(c)], out);
  return out;
}

bpe_tokenizer::bpe_tokenizer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
bpe_tokenizer::~bpe_tokenizer() = default;

void bpe_tokenizer::encode(std::string_view text, std::vector<token_id>& out) const {
  std::lock_guard lock(impl_->mutex);
  if (!is_valid_utf8(text)) {
    impl_->repaired.clear();
    repair_utf8(text, impl_->repaired);
    text = impl_->repaired;
  }
  impl_->encode_text(text, out);
}

std::optional<token_id> bpe_tokenizer::token_to_id(std::string_view token) const {
  if (auto it = impl_->spelled.find(token); it != impl_->spelled.end()) return it->second;
  return std::nullopt;
}

std::span<const token_id> bpe_tokenizer::prefix_ids() const noexcept { return impl_->prefix; }
std::size_t bpe_tokenizer::vocab_size() const noexcept { return impl_->vocab_size; }
bool bpe_tokenizer::jit() const noexcept {
  return std::all_of(impl_->steps.begin(), impl_->steps.end(),
                     [](const detail::pre_step& s) { return !s.has_regex || s.re.jit(); });
}

// ---- loading ------------------------------------------------------------------------------

namespace detail {

constexpr std::string_view supported_kinds =
    "pswm reads byte-level BPE tokenizers (model.type \"BPE\" with a \"ByteLevel\" pre-tokenizer, "
    "as Llama 3, Qwen 2.5 and DeepSeek's distills ship)";

inline const bjson::value* member(const bjson::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

inline bool is_null_or_empty(const bjson::value* v) {
  return !v || v->is_null() || (v->is_string() && v->get_string().empty());
}

/// Reads one pre-tokenizer (recursing into Sequence) into `steps`.
inline boost::system::error_code read_pre_tokenizer(const bjson::value& v, const std::string& field,
                                                    std::vector<pre_step>& steps, bool& byte_level,
                                                    const load_error& fail) {
  if (!v.is_object()) return fail(error::wrong_field_type, "field `" + field + "` must be an object");
  const auto& o = v.get_object();
  const auto* type = member(o, "type");
  if (!type || !type->is_string()) return fail(error::missing_field, "field `" + field + ".type` is missing");
  const std::string_view t(type->get_string().data(), type->get_string().size());
  if (t == "Sequence") {
    const auto* list = member(o, "pretokenizers");
    if (!list || !list->is_array())
      return fail(error::missing_field, "field `" + field + ".pretokenizers` must be a list");
    std::size_t k = 0;
    for (const auto& item : list->get_array())
      if (auto ec = read_pre_tokenizer(item, field + ".pretokenizers[" + std::to_string(k++) + "]", steps, byte_level,
                                       fail))
        return ec;
    return {};
  }
  pre_step step;
  std::string pattern;
  bool literal = false;
  if (t == "ByteLevel") {
    byte_level = true;
    step.what = pre_step::kind::byte_level;
    if (const auto* a = member(o, "add_prefix_space"); a && a->is_bool()) step.add_prefix_space = a->get_bool();
    const auto* use_regex = member(o, "use_regex");
    if (!use_regex || !use_regex->is_bool() || use_regex->get_bool()) pattern = std::string(gpt2_pattern);
  } else if (t == "Split") {
    const auto* p = member(o, "pattern");
    const bjson::value* re = p && p->is_object() ? member(p->get_object(), "Regex") : nullptr;
    const bjson::value* str = p && p->is_object() ? member(p->get_object(), "String") : nullptr;
    if (re && re->is_string()) {
      pattern.assign(re->get_string().data(), re->get_string().size());
    } else if (str && str->is_string()) {
      pattern.assign(str->get_string().data(), str->get_string().size());
      literal = true;
    } else {
      return fail(error::missing_field, "field `" + field + ".pattern` must hold a \"Regex\" or \"String\"");
    }
    const auto* behavior = member(o, "behavior");
    const std::string_view b = behavior && behavior->is_string()
                                   ? std::string_view(behavior->get_string().data(), behavior->get_string().size())
                                   : std::string_view("Isolated");
    if (b == "Removed") {
      step.removed = true;
    } else if (b != "Isolated") {
      return fail(error::invalid_argument, "field `" + field + ".behavior` is \"" + std::string(b) +
                                               "\"; pswm supports the Split behaviors \"Isolated\" and \"Removed\"");
    }
    if (const auto* inv = member(o, "invert"); inv && inv->is_bool()) step.invert = inv->get_bool();
  } else {
    return fail(error::invalid_argument, "field `" + field + ".type` is \"" + std::string(t) +
                                             "\"; supported pre-tokenizers: Split, ByteLevel and a Sequence of them (" +
                                             std::string(supported_kinds) + ")");
  }
  if (!pattern.empty()) {
    std::string why;
    if (!step.re.compile(literal ? pattern : reference_pattern(pattern), literal, why))
      return fail(error::invalid_argument, "field `" + field + ".pattern`: " + why);
    step.has_regex = true;
  }
  steps.push_back(std::move(step));
  return {};
}

/// The ids a TemplateProcessing's single-sequence template puts before the text.
inline void read_prefix(const bjson::value* pp, std::vector<token_id>& prefix) {
  if (!pp || !pp->is_object()) return;
  const auto& o = pp->get_object();
  const auto* type = member(o, "type");
  if (!type || !type->is_string()) return;
  if (type->get_string() == "Sequence") {
    if (const auto* list = member(o, "processors"); list && list->is_array())
      for (const auto& item : list->get_array()) read_prefix(&item, prefix);
    return;
  }
  if (type->get_string() != "TemplateProcessing") return;
  const auto* single = member(o, "single");
  const auto* specials = member(o, "special_tokens");
  if (!single || !single->is_array() || !specials || !specials->is_object()) return;
  for (const auto& item : single->get_array()) {
    if (!item.is_object()) return;
    const auto* sp = member(item.get_object(), "SpecialToken");
    if (!sp) return;  // the sequence itself: the prefix ends
    const auto* id = sp->is_object() ? member(sp->get_object(), "id") : nullptr;
    if (!id || !id->is_string()) return;
    const auto* entry = member(specials->get_object(), std::string_view(id->get_string().data(), id->get_string().size()));
    const auto* ids = entry && entry->is_object() ? member(entry->get_object(), "ids") : nullptr;
    if (!ids || !ids->is_array()) return;
    for (const auto& x : ids->get_array())
      if (x.is_int64() && x.get_int64() >= 0) prefix.push_back(static_cast<token_id>(x.get_int64()));
  }
}

}  // namespace detail

result<std::shared_ptr<const bpe_tokenizer>> bpe_tokenizer::parse(std::string_view json, std::string_view source,
                                                                   diagnostics& diag) {
  namespace bjson = boost::json;
  const detail::load_error fail{std::string(source), &diag};
  boost::system::error_code ec;
  bjson::value doc = bjson::parse(json, ec);
  if (ec) return fail(error::invalid_json, "not valid JSON (" + ec.message() + "); expected a Hugging Face tokenizer.json");
  if (!doc.is_object()) return fail(error::wrong_field_type, "the top level must be a JSON object (a tokenizer.json)");
  const auto& root = doc.get_object();
  auto p = std::make_unique<impl>();

  // model
  const auto* model_v = detail::member(root, "model");
  if (!model_v || !model_v->is_object()) return fail(error::missing_field, "field `model` is missing or not an object");
  const auto& model = model_v->get_object();
  const auto* type = detail::member(model, "type");
  if (!type || !type->is_string())
    return fail(error::missing_field, "field `model.type` is missing; " + std::string(detail::supported_kinds));
  if (type->get_string() != "BPE")
    return fail(error::invalid_argument, "field `model.type` is " + detail::quoted(type->get_string()) + "; " +
                                             std::string(detail::supported_kinds));
  if (const auto* d = detail::member(model, "dropout"); d && !d->is_null() && !(d->is_number() && d->to_number<double>() == 0))
    return fail(error::invalid_argument, "field `model.dropout` is set; pswm encodes deterministically (null or 0)");
  if (!detail::is_null_or_empty(detail::member(model, "continuing_subword_prefix")) ||
      !detail::is_null_or_empty(detail::member(model, "end_of_word_suffix")))
    return fail(error::invalid_argument,
                "fields `model.continuing_subword_prefix` / `model.end_of_word_suffix` are set; " +
                    std::string(detail::supported_kinds));
  if (const auto* im = detail::member(model, "ignore_merges"); im && im->is_bool()) p->ignore_merges = im->get_bool();
  const bool byte_fallback = [&] {
    const auto* bf = detail::member(model, "byte_fallback");
    return bf && bf->is_bool() && bf->get_bool();
  }();

  // vocab, in the byte-level alphabet
  const auto* vocab_v = detail::member(model, "vocab");
  if (!vocab_v || !vocab_v->is_object())
    return fail(error::missing_field, "field `model.vocab` must be an object of token -> id");
  std::array<char32_t, 256> b2c = detail::byte_to_char();
  boost::unordered_flat_map<char32_t, unsigned char> c2b;
  for (int b = 0; b < 256; ++b) c2b.emplace(b2c[static_cast<std::size_t>(b)], static_cast<unsigned char>(b));
  p->byte_id.fill(detail::no_id);
  p->vocab.reserve(vocab_v->get_object().size());
  p->spelled.reserve(vocab_v->get_object().size() + 512);
  std::string raw;
  for (const auto& kv : vocab_v->get_object()) {
    if (!kv.value().is_int64() || kv.value().get_int64() < 0 || kv.value().get_int64() >= detail::no_id)
      return fail(error::wrong_field_type, "field `model.vocab` entry " + detail::quoted(kv.key()) +
                                               " must have a non-negative integer id");
    const auto id = static_cast<token_id>(kv.value().get_int64());
    const std::string_view spelled(kv.key().data(), kv.key().size());
    p->spelled[std::string(spelled)] = id;
    p->vocab_size = std::max<std::size_t>(p->vocab_size, std::size_t{id} + 1);
    raw.clear();
    bool byte_level = true;
    for (std::size_t i = 0; i < spelled.size();) {
      auto it = c2b.find(detail::next_code_point(spelled, i));
      if (it == c2b.end()) {
        byte_level = false;
        break;
      }
      raw += static_cast<char>(it->second);
    }
    if (!byte_level || raw.empty()) continue;  // e.g. "<unk>" spelled outside the alphabet: not reachable by merges
    if (raw.size() == 1) p->byte_id[static_cast<unsigned char>(raw[0])] = id;
    p->vocab[raw] = id;
  }

  // byte fallback for bytes without an id of their own
  std::optional<token_id> unk;
  if (const auto* u = detail::member(model, "unk_token"); u && u->is_string())
    if (auto it = p->spelled.find(std::string_view(u->get_string().data(), u->get_string().size())); it != p->spelled.end())
      unk = it->second;
  for (int b = 0; b < 256; ++b) {
    if (p->byte_id[static_cast<std::size_t>(b)] != detail::no_id) continue;
    auto& ids = p->byte_fallback_ids[static_cast<std::size_t>(b)];
    bool ok = byte_fallback;
    if (byte_fallback) {
      // The reference falls back on the UTF-8 bytes of the byte's alphabet character.
      std::string ch;
      detail::append_utf8(b2c[static_cast<std::size_t>(b)], ch);
      for (char x : ch) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned>(static_cast<unsigned char>(x)));
        auto it = p->spelled.find(std::string_view(name));
        if (it == p->spelled.end()) {
          ok = false;
          break;
        }
        ids.push_back(it->second);
      }
    }
    if (!ok) {
      ids.clear();
      if (!unk) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02X", b);
        return fail(error::invalid_argument, "field `model.vocab` has no token for byte " + std::string(hex) +
                                                 " and the model has neither `byte_fallback` tokens nor an `unk_token`");
      }
      ids.push_back(*unk);
    }
  }

  // merges: "a b" strings or [a, b] pairs; rank = position. A repeated pair takes its later
  // rank, as the reference's pair -> rank map does.
  const auto* merges_v = detail::member(model, "merges");
  if (!merges_v || !merges_v->is_array()) return fail(error::missing_field, "field `model.merges` must be a list");
  const auto& merges = merges_v->get_array();
  p->ranks.reserve(merges.size());
  std::string joined;
  for (std::size_t r = 0; r < merges.size(); ++r) {
    std::string_view a, b;
    const auto& m = merges[r];
    if (m.is_string()) {
      const std::string_view s(m.get_string().data(), m.get_string().size());
      const auto sp = s.find(' ');
      if (sp == std::string_view::npos)
        return fail(error::wrong_field_type, "field `model.merges[" + std::to_string(r) + "]` is \"" + std::string(s) +
                                                 "\"; expected two tokens separated by a space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
      if (auto sp2 = b.find(' '); sp2 != std::string_view::npos) b = b.substr(0, sp2);
    } else if (m.is_array() && m.get_array().size() == 2 && m.get_array()[0].is_string() && m.get_array()[1].is_string()) {
      a = std::string_view(m.get_array()[0].get_string().data(), m.get_array()[0].get_string().size());
      b = std::string_view(m.get_array()[1].get_string().data(), m.get_array()[1].get_string().size());
    } else {
      return fail(error::wrong_field_type,
                  "field `model.merges[" + std::to_string(r) + "]` must be \"a b\" or [\"a\", \"b\"]");
    }
    auto ia = p->spelled.find(a), ib = p->spelled.find(b);
    joined.assign(a);
    joined.append(b);
    auto ij = p->spelled.find(std::string_view(joined));
    // A merge whose parts or result are not in the vocabulary can never produce an id.
    if (ia == p->spelled.end() || ib == p->spelled.end() || ij == p->spelled.end()) continue;
    p->ranks[(static_cast<std::uint64_t>(ia->second) << 32) | ib->second] =
        detail::merge_entry{static_cast<std::uint32_t>(r), ij->second};
  }

  // added tokens
  if (const auto* at = detail::member(root, "added_tokens"); at && !at->is_null()) {
    if (!at->is_array()) return fail(error::wrong_field_type, "field `added_tokens` must be a list");
    std::size_t k = 0;
    for (const auto& t : at->get_array()) {
      const std::string field = "added_tokens[" + std::to_string(k++) + "]";
      const auto* content = t.is_object() ? detail::member(t.get_object(), "content") : nullptr;
      const auto* id = t.is_object() ? detail::member(t.get_object(), "id") : nullptr;
      if (!content || !content->is_string() || content->get_string().empty() || !id || !id->is_int64() ||
          id->get_int64() < 0 || id->get_int64() >= detail::no_id)
        return fail(error::wrong_field_type, "field `" + field + "` must have a non-empty `content` and an integer `id`");
      const auto tid = static_cast<token_id>(id->get_int64());
      std::string c(content->get_string().data(), content->get_string().size());
      p->spelled[c] = tid;
      p->vocab_size = std::max<std::size_t>(p->vocab_size, std::size_t{tid} + 1);
      auto flag = [&](std::string_view key) {
        const auto* f = detail::member(t.get_object(), key);
        return f && f->is_bool() && f->get_bool();
      };
      p->added_lstrip.push_back(flag("lstrip"));
      p->added_rstrip.push_back(flag("rstrip"));
      p->added.add(std::move(c), tid);
    }
  }

  // pre-tokenizer: must be byte-level
  bool byte_level = false;
  const auto* pre = detail::member(root, "pre_tokenizer");
  if (!pre || pre->is_null())
    return fail(error::invalid_argument, "field `pre_tokenizer` is null: a BPE over characters, not bytes; " +
                                             std::string(detail::supported_kinds));
  if (auto e = detail::read_pre_tokenizer(*pre, "pre_tokenizer", p->steps, byte_level, fail)) return e;
  if (!byte_level)
    return fail(error::invalid_argument,
                "field `pre_tokenizer` has no \"ByteLevel\" step: a BPE over characters (SentencePiece style), not "
                "bytes; " + std::string(detail::supported_kinds));
  // normalizer: none (Llama 3, DeepSeek) or an empty Sequence; any other is refused below, naming it.
  if (const auto* n = detail::member(root, "normalizer"); n && !n->is_null()) {
    const bool empty_sequence = n->is_object() && detail::member(n->get_object(), "type") &&
                                detail::member(n->get_object(), "type")->is_string() &&
                                detail::member(n->get_object(), "type")->get_string() == "Sequence" &&
                                detail::member(n->get_object(), "normalizers") &&
                                detail::member(n->get_object(), "normalizers")->is_array() &&
                                detail::member(n->get_object(), "normalizers")->get_array().empty();
    if (!empty_sequence) {
      std::string t = "?";
      if (n->is_object())
        if (const auto* nt = detail::member(n->get_object(), "type"); nt && nt->is_string())
          t = std::string(nt->get_string().data(), nt->get_string().size());
      return fail(error::invalid_argument, "field `normalizer` is of type \"" + t +
                                               "\"; pswm supports tokenizers without a normalizer (null, or an empty "
                                               "Sequence, as Llama 3 and DeepSeek's distills ship)");
    }
  }
  detail::read_prefix(detail::member(root, "post_processor"), p->prefix);
  return std::shared_ptr<const bpe_tokenizer>(new bpe_tokenizer(std::move(p)));
}

result<std::shared_ptr<const bpe_tokenizer>> bpe_tokenizer::load(const std::filesystem::path& file, diagnostics& diag) {
  std::error_code fec;
  if (!std::filesystem::is_regular_file(file, fec)) {
    diag.message = file.string() + ": no such file (expected a Hugging Face tokenizer.json)";
    return make_error_code(error::file_not_found);
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) {
    diag.message = file.string() + ": could not be read";
    return make_error_code(error::file_unreadable);
  }
  return parse(ss.str(), file.string(), diag);
}

}  // namespace planetserve::tokenize
