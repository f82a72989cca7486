// SPDX-License-Identifier: MIT
// Compiled body of the Mooncake-format trace reader and of the text and tokens its blocks stand for.
#pragma once

#include <planetserve/workload/detail/jsonl_file.hpp>
#include <planetserve/workload/trace.hpp>

#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace planetserve::workload {
namespace detail {

// 256 common English words, each a single token of Llama 3's tokenizer with its leading space
// (the tokenizer test checks it against the real tokenizer.json), so a block of n words is n
// tokens and blocks never merge across their boundary.
inline constexpr std::string_view trace_words[256] = {
    "the", "of", "and", "to", "in", "is", "was", "for", "on", "that", "with", "as", "by", "at",
    "from", "his", "her", "they", "this", "which", "are", "have", "had", "not", "but", "were",
    "been", "one", "all", "their", "has", "there", "would", "can", "more", "will", "about", "what",
    "when", "who", "other", "its", "into", "time", "only", "some", "could", "new", "these", "two",
    "may", "first", "then", "after", "any", "like", "our", "also", "over", "such", "years", "most",
    "state", "many", "where", "very", "through", "made", "well", "back", "those", "even", "just",
    "people", "because", "how", "year", "between", "both", "each", "much", "own", "under", "good",
    "work", "high", "same", "last", "while", "life", "since", "great", "another", "around", "long",
    "world", "during", "still", "against", "later", "three", "part", "must", "small", "found",
    "without", "might", "city", "number", "group", "second", "does", "here", "government", "never",
    "form", "power", "point", "family", "day", "end", "local", "based", "house", "order", "name",
    "early", "among", "several", "case", "help", "public", "water", "often", "school", "within",
    "country", "system", "though", "however", "began", "set", "include", "left", "right", "next",
    "less", "war", "history", "music", "area", "large", "home", "four", "five", "six", "seven",
    "eight", "nine", "ten", "hand", "place", "old", "general", "play", "team", "game", "film",
    "book", "line", "river", "side", "land", "light", "young", "run", "major", "death", "open",
    "change", "body", "national", "human", "lead", "night", "real", "service", "support", "market",
    "field", "program", "free", "south", "north", "east", "west", "black", "white", "red", "blue",
    "green", "little", "common", "head", "half", "least", "level", "office", "party", "past",
    "price", "report", "road", "room", "show", "song", "story", "study", "term", "test", "town",
    "type", "voice", "week", "word", "plan", "today", "problem", "rate", "fact", "idea", "job",
    "kind", "law", "mind", "money", "month", "news", "paper", "person", "question", "reason",
    "sense", "space", "table", "view", "wife", "woman", "child", "moment", "model", "care", "class",
    "color", "door", "face",
};

// splitmix64's finaliser: every bit of a block's id reaches every word of it.
inline std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The words of block `id` in `domain` (hash ids, or one request's own filler), eight per draw.
template <class Emit>
void for_each_word(std::uint64_t domain, std::uint64_t id, std::size_t count, Emit&& emit) {
  std::uint64_t state = mix64(id ^ domain);
  for (std::size_t i = 0; i < count; i += 8) {
    state = mix64(state + 0x9E3779B97F4A7C15ull);
    std::uint64_t bits = state;
    for (std::size_t j = i; j < count && j < i + 8; ++j, bits >>= 8) emit(static_cast<std::uint8_t>(bits & 0xFF));
  }
}

inline constexpr std::uint64_t hash_id_domain = 0x6D6F6F6E63616B65ull;  // blocks named by the trace
inline constexpr std::uint64_t filler_domain = 0x66696C6C65722121ull;   // a request's own tokens past its ids

// How many tokens of `r`'s prompt block j holds, and how many lie past its hash ids.
inline std::size_t block_length(const trace_request& r, std::size_t block_tokens, std::size_t j) noexcept {
  const std::size_t start = j * block_tokens;
  return start >= r.input_length ? 0 : std::min<std::size_t>(block_tokens, r.input_length - start);
}

template <class Block>
void for_each_block(const trace_request& r, std::size_t block_tokens, Block&& block) {
  for (std::size_t j = 0; j < r.hash_ids.size(); ++j)
    if (const std::size_t len = block_length(r, block_tokens, j)) block(hash_id_domain, r.hash_ids[j], len);
  const std::size_t covered = r.hash_ids.size() * block_tokens;
  if (covered < r.input_length) block(filler_domain, r.line, r.input_length - covered);
}

// A non-negative integer field (JSON integers, or doubles with no fraction), at most `max`.
inline bool read_count(const boost::json::value& v, std::uint64_t max, std::uint64_t& out) noexcept {
  if (const auto* u = v.if_uint64()) {
    out = *u;
  } else if (const auto* i = v.if_int64()) {
    if (*i < 0) return false;
    out = static_cast<std::uint64_t>(*i);
  } else if (const auto* d = v.if_double()) {
    if (!(*d >= 0) || *d > 9007199254740992.0 || std::floor(*d) != *d) return false;
    out = static_cast<std::uint64_t>(*d);
  } else {
    return false;
  }
  return out <= max;
}

}  // namespace detail

bool looks_like_trace_line(std::string_view line) noexcept {
  boost::system::error_code ec;
  boost::json::parser parser;
  parser.write(line.data(), line.size(), ec);
  if (ec) return false;
  const boost::json::value v = parser.release();
  const auto* o = v.if_object();
  return o && o->contains("hash_ids") && o->contains("input_length") && o->contains("output_length");
}

boost::system::error_code parse_trace_line(std::string_view line, const trace_config& config, double previous_ms,
                                           trace_request& out, diagnostics& diag) {
  if (line.size() > config.max_line_bytes) {
    diag.message = "line is " + std::to_string(line.size()) + " bytes, over the limit of " +
                   std::to_string(config.max_line_bytes) + " bytes (raise --max-line-bytes)";
    return make_error_code(error::line_too_long);
  }
  boost::system::error_code ec;
  boost::json::parser parser;
  const std::size_t used = parser.write(line.data(), line.size(), ec);
  if (ec) {
    diag.message = "invalid JSON at byte " + std::to_string(used + 1) + " (" + ec.message() + ")";
    return make_error_code(error::invalid_json);
  }
  const boost::json::value v = parser.release();
  const auto* o = v.if_object();
  if (!o) {
    diag.message = "a trace line must be an object like {\"timestamp\": 0, \"input_length\": 600, "
                   "\"output_length\": 20, \"hash_ids\": [0, 1]}";
    return make_error_code(error::invalid_json);
  }
  for (const char* name : {"timestamp", "input_length", "output_length", "hash_ids"})
    if (!o->contains(name)) {
      diag.message = std::string("missing field \"") + name + "\" (a Mooncake trace line has timestamp, "
                     "input_length, output_length and hash_ids)";
      return make_error_code(error::missing_field);
    }
  const auto& ts = o->at("timestamp");
  if (!ts.is_number() || !std::isfinite(ts.to_number<double>()) || ts.to_number<double>() < 0) {
    diag.message = "\"timestamp\" must be a number of milliseconds, 0 or more";
    return make_error_code(error::wrong_field_type);
  }
  out.timestamp_ms = ts.to_number<double>();
  if (out.timestamp_ms < previous_ms) {
    diag.message = "timestamp " + std::to_string(out.timestamp_ms) + " goes backwards (the line before has " +
                   std::to_string(previous_ms) + "); a trace must be in arrival order (sort it by timestamp)";
    return make_error_code(error::invalid_argument);
  }
  std::uint64_t in = 0, outlen = 0;
  constexpr std::uint64_t max_len = std::numeric_limits<std::uint32_t>::max();
  if (!detail::read_count(o->at("input_length"), max_len, in) || in == 0) {
    diag.message = "\"input_length\" must be a whole number of tokens, at least 1";
    return make_error_code(error::wrong_field_type);
  }
  if (!detail::read_count(o->at("output_length"), max_len, outlen) || outlen == 0) {
    diag.message = "\"output_length\" must be a whole number of tokens, at least 1 (a request asks for one token or more)";
    return make_error_code(error::wrong_field_type);
  }
  out.input_length = static_cast<std::uint32_t>(in);
  out.output_length = static_cast<std::uint32_t>(outlen);
  const auto* ids = o->at("hash_ids").if_array();
  if (!ids) {
    diag.message = "\"hash_ids\" must be an array of block ids";
    return make_error_code(error::wrong_field_type);
  }
  out.hash_ids.clear();
  out.hash_ids.reserve(ids->size());
  for (std::size_t j = 0; j < ids->size(); ++j) {
    std::uint64_t id = 0;
    if (!detail::read_count((*ids)[j], std::numeric_limits<std::uint64_t>::max(), id)) {
      diag.message = "\"hash_ids\"[" + std::to_string(j) + "] must be a whole number, 0 or more";
      return make_error_code(error::wrong_field_type);
    }
    out.hash_ids.push_back(id);
  }
  const std::size_t needed = (out.input_length + config.block_tokens - 1) / config.block_tokens;
  if (out.hash_ids.size() > needed) {
    diag.message = std::to_string(out.hash_ids.size()) + " hash_ids but input_length " + std::to_string(out.input_length) +
                   " fills only " + std::to_string(needed) + " block(s) of " + std::to_string(config.block_tokens) +
                   " tokens (is --trace-block-tokens right? Mooncake's traces use 512, Alibaba's 16)";
    return make_error_code(error::invalid_argument);
  }
  return {};
}

result<trace> read_trace(const std::filesystem::path& file, const trace_config& config, diagnostics& diag) {
  if (config.block_tokens == 0) {
    diag.message = "trace block size must be at least 1 token";
    return make_error_code(error::invalid_argument);
  }
  trace t;
  t.source = file.string();
  std::size_t line_no = 0;
  double previous = 0;
  trace_request r;
  diagnostics line_diag;
  const auto done = [&] { return config.max_requests && t.requests.size() >= config.max_requests; };
  const auto add = [&](std::string_view line) -> boost::system::error_code {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (detail::is_blank(line)) return {};
    ++t.lines;
    line_diag.clear();
    if (auto ec = parse_trace_line(line, config, previous, r, line_diag)) {
      std::string where = t.source + ":" + std::to_string(line_no) + ": " + line_diag.message;
      if (!config.skip_bad_lines) {
        diag.message = std::move(where);
        return ec;
      }
      ++t.skipped;
      if (t.skip_reasons.size() < 10) t.skip_reasons.push_back(std::move(where));
      return {};
    }
    previous = r.timestamp_ms;
    r.line = line_no;
    t.requests.push_back(std::move(r));
    r = trace_request{};
    return {};
  };
  if (auto ec = detail::read_lines(file, add, done, diag)) return ec;
  if (t.requests.empty()) {
    diag.message = t.source + (t.lines == 0 ? std::string(": holds no JSON lines (only blank lines)")
                                            : ": all " + std::to_string(t.lines) + " lines are bad; the first: " +
                                                  (t.skip_reasons.empty() ? std::string("?") : t.skip_reasons.front()));
    return make_error_code(error::empty_input);
  }
  return t;
}

std::string to_trace_jsonl(const std::vector<trace_request>& requests) {
  std::string out;
  char num[32];
  const auto put = [&](auto v) {
    const auto r = std::to_chars(num, num + sizeof num, v);
    out.append(num, r.ptr);
  };
  for (const auto& q : requests) {
    out += "{\"timestamp\": ";
    if (q.timestamp_ms == std::floor(q.timestamp_ms) && q.timestamp_ms < 9e15) put(static_cast<std::uint64_t>(q.timestamp_ms));
    else put(q.timestamp_ms);
    out += ", \"input_length\": ";
    put(q.input_length);
    out += ", \"output_length\": ";
    put(q.output_length);
    out += ", \"hash_ids\": [";
    for (std::size_t j = 0; j < q.hash_ids.size(); ++j) {
      if (j) out += ", ";
      put(q.hash_ids[j]);
    }
    out += "]}\n";
  }
  return out;
}

boost::system::error_code write_trace(const std::filesystem::path& file, const std::vector<trace_request>& requests,
                                      diagnostics& diag) {
  return detail::write_text_file(file, to_trace_jsonl(requests), diag);
}

namespace detail {

// One block's words as text (each with its leading space) or as their vocabulary places.
inline void append_words(std::uint64_t domain, std::uint64_t id, std::size_t count, std::string& out) {
  for_each_word(domain, id, count, [&](std::uint8_t w) {
    out += ' ';
    out += trace_words[w];
  });
}

inline void append_words(std::uint64_t domain, std::uint64_t id, std::size_t count, std::vector<tokenize::token_id>& out) {
  for_each_word(domain, id, count, [&](std::uint8_t w) { out.push_back(static_cast<tokenize::token_id>(w)); });
}

}  // namespace detail

void append_block_text(std::uint64_t hash_id, std::size_t tokens, std::string& out) {
  detail::append_words(detail::hash_id_domain, hash_id, tokens, out);
}

void append_block_tokens(std::uint64_t hash_id, std::size_t tokens, std::vector<tokenize::token_id>& out) {
  detail::append_words(detail::hash_id_domain, hash_id, tokens, out);
}

void append_prompt_text(const trace_request& r, std::size_t block_tokens, std::string& out) {
  detail::for_each_block(r, block_tokens, [&](std::uint64_t domain, std::uint64_t id, std::size_t len) {
    detail::append_words(domain, id, len, out);
  });
}

void append_prompt_tokens(const trace_request& r, std::size_t block_tokens, std::vector<tokenize::token_id>& out) {
  detail::for_each_block(r, block_tokens, [&](std::uint64_t domain, std::uint64_t id, std::size_t len) {
    detail::append_words(domain, id, len, out);
  });
}

}  // namespace planetserve::workload
