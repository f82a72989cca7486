// SPDX-License-Identifier: MIT
// prom::parser bodies: line splitting, metadata, samples, and the checks the Go parser makes.
#pragma once

#include <planetserve/detail/sanitize.hpp>
#include <planetserve/prom/parser.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <system_error>

namespace planetserve::prom {

namespace detail {

// Character classes of the exposition format, as a table: the hot loop runs on these.
enum : unsigned char { c_name_start = 1, c_name = 2, c_label_start = 4, c_label = 8, c_blank = 16 };

constexpr std::array<unsigned char, 256> make_char_classes() {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    unsigned char v = 0;
    if (alpha || c == '_' || c == ':') v |= c_name_start | c_name;
    if (digit) v |= c_name;
    if (alpha || c == '_') v |= c_label_start | c_label;
    if (digit) v |= c_label;
    if (c == ' ' || c == '\t') v |= c_blank;
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}

inline constexpr auto char_classes = make_char_classes();

inline bool is(char c, unsigned char cls) noexcept {
  return (char_classes[static_cast<unsigned char>(c)] & cls) != 0;
}

inline void skip_blanks(std::string_view s, std::size_t& pos) noexcept {
  while (pos < s.size() && is(s[pos], c_blank)) ++pos;
}

inline std::string_view token(std::string_view s, std::size_t& pos) noexcept {
  const std::size_t start = pos;
  while (pos < s.size() && !is(s[pos], c_blank)) ++pos;
  return s.substr(start, pos - start);
}

// Go's strconv.ParseFloat as the reference parser uses it: decimal and exponent forms, an
// optional sign, and Inf/Infinity/NaN in any case. Out-of-range values are errors.
inline bool parse_number(std::string_view s, double& out) noexcept {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b == e) return false;
  if (*b == '+') {
    ++b;
    if (b == e || *b == '-' || *b == '+') return false;
  }
  // from_chars also takes "nan(...)", which Go does not.
  if (std::memchr(b, '(', static_cast<std::size_t>(e - b)) != nullptr) return false;
  const auto r = std::from_chars(b, e, out, std::chars_format::general);
  return r.ec == std::errc() && r.ptr == e;
}

inline bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* e = p + s.size();
  while (p < e) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(e - p) <= n) return false;
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return false;
    p += n + 1;
  }
  return true;
}

// Which samples a family of type `t` holds, by the suffix after the family name.
inline bool kind_for(metric_type t, std::string_view suffix, sample_kind& kind) noexcept {
  using mt = metric_type;
  if (suffix.empty()) {
    switch (t) {
      case mt::untyped:
      case mt::unknown:
      case mt::gauge:
      case mt::counter:
      case mt::stateset:
        kind = sample_kind::value;
        return true;
      case mt::summary:
        kind = sample_kind::quantile;
        return true;
      default:
        return false;
    }
  }
  if (suffix == "_bucket" && (t == mt::histogram || t == mt::gaugehistogram)) {
    kind = sample_kind::bucket;
    return true;
  }
  if ((suffix == "_sum" && (t == mt::histogram || t == mt::summary)) ||
      (suffix == "_gsum" && t == mt::gaugehistogram)) {
    kind = sample_kind::sum;
    return true;
  }
  if ((suffix == "_count" && (t == mt::histogram || t == mt::summary)) ||
      (suffix == "_gcount" && t == mt::gaugehistogram)) {
    kind = sample_kind::count;
    return true;
  }
  if (suffix == "_total" && t == mt::counter) {
    kind = sample_kind::total;
    return true;
  }
  if (suffix == "_created" && (t == mt::counter || t == mt::histogram || t == mt::summary)) {
    kind = sample_kind::created;
    return true;
  }
  if (suffix == "_info" && t == mt::info) {
    kind = sample_kind::info;
    return true;
  }
  return false;
}

inline bool parse_type(std::string_view w, metric_type& t) noexcept {
  using mt = metric_type;
  static constexpr std::pair<std::string_view, mt> words[] = {
      {"counter", mt::counter},     {"gauge", mt::gauge},
      {"histogram", mt::histogram}, {"summary", mt::summary},
      {"untyped", mt::untyped},     {"unknown", mt::unknown},
      {"gaugehistogram", mt::gaugehistogram}, {"stateset", mt::stateset},
      {"info", mt::info}};
  for (const auto& [word, type] : words)
    if (w == word) {
      t = type;
      return true;
    }
  return false;
}

// The page's text, made safe to print (planetserve::detail::append_sanitized) and short.
inline std::string quoted(std::string_view s, std::size_t max = 40) {
  std::string out = "\"";
  planetserve::detail::append_sanitized(out, s, max);
  out += '"';
  return out;
}

}  // namespace detail

std::string_view to_string(metric_type t) noexcept {
  switch (t) {
    case metric_type::untyped: return "untyped";
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
    case metric_type::summary: return "summary";
    case metric_type::unknown: return "unknown";
    case metric_type::gaugehistogram: return "gaugehistogram";
    case metric_type::stateset: return "stateset";
    case metric_type::info: return "info";
  }
  return "untyped";
}

parser::parser(sample_sink& sink, parser_config config) : sink_(&sink), config_(config) {
  labels_.reserve(16);
}

void parser::reset() {
  ec_ = {};
  diag_.clear();
  line_ = 0;
  eof_ = false;
  partial_.clear();
  families_.clear();
  current_.clear();
  current_state_ = nullptr;
}

boost::system::error_code parser::feed(std::string_view chunk) {
  while (!ec_ && !chunk.empty()) {
    const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
    const std::size_t n = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - chunk.data())
                             : chunk.size();
    if (partial_.size() + n > config_.max_line_bytes) {
      ++line_;
      fail(error::line_too_long,
           "line is longer than " + std::to_string(config_.max_line_bytes) + " bytes");
      break;
    }
    if (!nl) {
      partial_.append(chunk);
      break;
    }
    if (partial_.empty()) {
      line(chunk.substr(0, n));
    } else {
      partial_.append(chunk.data(), n);
      line(partial_);
      partial_.clear();
    }
    chunk.remove_prefix(n + 1);
  }
  return ec_;
}

boost::system::error_code parser::finish() {
  if (!ec_ && !partial_.empty()) {
    line(partial_);
    partial_.clear();
  }
  return ec_;
}

bool parser::fail(error e, std::string_view what) {
  if (!ec_) {
    ec_ = make_error_code(e);
    diag_.message = "line " + std::to_string(line_) + ": ";
    diag_.message += what;
  }
  return false;
}

bool parser::fail_name(error e, std::string_view what, std::string_view name) {
  std::string text(what);
  text += " in ";
  text += detail::quoted(name, 80);
  return fail(e, text);
}

parser::family_state& parser::family(std::string_view name) {
  return families_[XXH3_64bits(name.data(), name.size())];
}

void parser::enter_family(std::string_view name, family_state& state) {
  current_.assign(name.data(), name.size());
  current_state_ = &state;
}

void parser::line(std::string_view text) {
  ++line_;
  // Python and Go write LF; a CR before it (a page saved on Windows) is not content.
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  std::size_t pos = 0;
  detail::skip_blanks(text, pos);
  if (pos == text.size()) return;
  if (eof_) {
    fail(error::malformed_line, "text after \"# EOF\"");
    return;
  }
  text.remove_prefix(pos);
  if (text[0] == '#')
    comment(text);
  else
    sample(text);
}

void parser::comment(std::string_view text) {
  using detail::is;
  if (text.size() < 2 || !is(text[1], detail::c_blank)) return;  // "#foo": a plain comment
  std::size_t pos = 1;
  detail::skip_blanks(text, pos);
  const std::string_view word = detail::token(text, pos);
  metadata_view meta;
  if (word == "EOF") {
    detail::skip_blanks(text, pos);
    if (pos == text.size()) eof_ = true;
    return;
  }
  if (word == "HELP")
    meta.kind = metadata_view::what::help;
  else if (word == "TYPE")
    meta.kind = metadata_view::what::type;
  else if (word == "UNIT")
    meta.kind = metadata_view::what::unit;
  else
    return;  // any other comment
  detail::skip_blanks(text, pos);
  const std::size_t name_start = pos;
  if (pos < text.size() && is(text[pos], detail::c_name_start)) {
    ++pos;
    while (pos < text.size() && is(text[pos], detail::c_name)) ++pos;
  }
  const std::string_view name = text.substr(name_start, pos - name_start);
  if (name.empty() || (pos < text.size() && !is(text[pos], detail::c_blank))) {
    fail(error::malformed_line, "# " + std::string(word) + " needs a valid metric name, got " +
                                    detail::quoted(text.substr(name_start)));
    return;
  }
  meta.family = name;
  meta.line = line_;
  detail::skip_blanks(text, pos);
  family_state& state = family(name);
  if (meta.kind == metadata_view::what::help) {
    if (state.help) {
      fail_name(error::malformed_line, "second HELP line", name);
      return;
    }
    // HELP text escapes only backslash and newline.
    const std::string_view raw = text.substr(pos);
    if (raw.find('\\') == std::string_view::npos) {
      meta.text = raw;
    } else {
      scratch_.clear();
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\') {
          scratch_ += raw[i];
          continue;
        }
        if (++i == raw.size()) {
          fail_name(error::unknown_escape, "HELP text ends in a lone backslash", name);
          return;
        }
        if (raw[i] == '\\')
          scratch_ += '\\';
        else if (raw[i] == 'n')
          scratch_ += '\n';
        else {
          fail_name(error::unknown_escape,
                    "unknown escape \"\\" + std::string(1, raw[i]) + "\" in HELP text", name);
          return;
        }
      }
      meta.text = scratch_;
    }
    state.help = true;
  } else if (meta.kind == metadata_view::what::type) {
    const std::string_view type_word = detail::token(text, pos);
    detail::skip_blanks(text, pos);
    if (!detail::parse_type(type_word, meta.type)) {
      fail_name(error::malformed_line, "unknown metric type " + detail::quoted(type_word), name);
      return;
    }
    if (pos != text.size()) {
      fail_name(error::malformed_line,
                "unexpected text after the type: " + detail::quoted(text.substr(pos)), name);
      return;
    }
    if (state.typed) {
      fail_name(error::malformed_line, "second TYPE line", name);
      return;
    }
    if (state.has_samples) {
      fail_name(error::malformed_line, "TYPE line after samples of the family", name);
      return;
    }
    state.typed = true;
    state.type = meta.type;
  } else {
    meta.text = detail::token(text, pos);
    detail::skip_blanks(text, pos);
    if (meta.text.empty() || pos != text.size()) {
      fail_name(error::malformed_line, "# UNIT needs exactly one unit word", name);
      return;
    }
  }
  enter_family(name, state);
  sink_->on_metadata(meta);
}

bool parser::classify(std::string_view name, sample_view& out) {
  // The common case: the sample belongs to the family whose TYPE line came last.
  if (current_state_ && name.size() >= current_.size() &&
      std::memcmp(name.data(), current_.data(), current_.size()) == 0 &&
      detail::kind_for(current_state_->type, name.substr(current_.size()), out.kind)) {
    current_state_->has_samples = true;
    out.family = current_;
    out.type = current_state_->type;
    return true;
  }
  // A family seen before under exactly this name.
  if (auto it = families_.find(XXH3_64bits(name.data(), name.size())); it != families_.end()) {
    if (!detail::kind_for(it->second.type, {}, out.kind))
      return fail_name(error::malformed_line,
                       "a " + std::string(to_string(it->second.type)) +
                           " sample needs a suffix such as _bucket, _sum or _count",
                       name);
    it->second.has_samples = true;
    enter_family(name, it->second);
    out.family = current_;
    out.type = it->second.type;
    return true;
  }
  // A suffixed sample of a typed family seen before (samples in any order).
  static constexpr std::string_view suffixes[] = {"_bucket", "_sum",  "_count",  "_created",
                                                  "_total",  "_gsum", "_gcount", "_info"};
  for (std::string_view suffix : suffixes) {
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) continue;
    const std::string_view base = name.substr(0, name.size() - suffix.size());
    auto it = families_.find(XXH3_64bits(base.data(), base.size()));
    if (it != families_.end() && detail::kind_for(it->second.type, suffix, out.kind)) {
      it->second.has_samples = true;
      enter_family(base, it->second);
      out.family = current_;
      out.type = it->second.type;
      return true;
    }
  }
  // A sample without TYPE: its own untyped family.
  family_state& state = family(name);
  state.has_samples = true;
  enter_family(name, state);
  out.family = current_;
  out.type = metric_type::untyped;
  out.kind = sample_kind::value;
  return true;
}

bool parser::read_label_value(std::string_view text, std::size_t& pos, std::string_view& out) {
  const std::size_t open = pos;
  const std::size_t start = ++pos;
  bool ascii = true;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '"') {
      out = text.substr(start, pos - start);
      ++pos;
      if (!ascii && !detail::valid_utf8(out))
        return fail(error::invalid_utf8, "label value " + detail::quoted(out) + " is not UTF-8");
      return true;
    }
    if (c == '\\') break;
    ascii &= static_cast<unsigned char>(c) < 0x80;
    ++pos;
  }
  if (pos < text.size()) {
    // Escapes: unescape into scratch_, which was reserved for the whole line (no reallocation,
    // so earlier views into it stay valid).
    const std::size_t s0 = scratch_.size();
    scratch_.append(text.data() + start, pos - start);
    while (pos < text.size()) {
      const char c = text[pos];
      if (c == '"') {
        out = std::string_view(scratch_.data() + s0, scratch_.size() - s0);
        ++pos;
        if (!ascii && !detail::valid_utf8(out))
          return fail(error::invalid_utf8, "label value " + detail::quoted(out) + " is not UTF-8");
        return true;
      }
      if (c == '\\') {
        if (pos + 1 == text.size()) break;
        const char e = text[pos + 1];
        if (e == '\\' || e == '"')
          scratch_ += e;
        else if (e == 'n')
          scratch_ += '\n';
        else
          return fail(error::unknown_escape, "unknown escape \"\\" + std::string(1, e) +
                                                 "\" in a label value (only \\\\, \\\" and \\n)");
        pos += 2;
        continue;
      }
      ascii &= static_cast<unsigned char>(c) < 0x80;
      scratch_ += c;
      ++pos;
    }
  }
  return fail(error::unterminated_string,
              "label value starting at column " + std::to_string(open + 1) + " has no closing quote");
}

void parser::sample(std::string_view text) {
  using detail::is;
  std::size_t pos = 0;
  if (!is(text[0], detail::c_name_start)) {
    fail(error::malformed_line, "expected a metric name or '#', got " + detail::quoted(text));
    return;
  }
  while (pos < text.size() && is(text[pos], detail::c_name)) ++pos;
  sample_view s;
  s.name = text.substr(0, pos);
  s.line = line_;
  detail::skip_blanks(text, pos);
  labels_.clear();
  if (pos < text.size() && text[pos] == '{') {
    scratch_.clear();
    if (scratch_.capacity() < text.size()) scratch_.reserve(text.size());
    ++pos;
    for (;;) {
      detail::skip_blanks(text, pos);
      if (pos == text.size()) {
        fail_name(error::malformed_line, "label set has no closing '}'", s.name);
        return;
      }
      if (text[pos] == '}') {
        ++pos;
        break;
      }
      const std::size_t name_start = pos;
      if (!is(text[pos], detail::c_label_start)) {
        fail_name(error::malformed_line,
                  "expected a label name, got " + detail::quoted(text.substr(pos)), s.name);
        return;
      }
      ++pos;
      while (pos < text.size() && is(text[pos], detail::c_label)) ++pos;
      label l;
      l.name = text.substr(name_start, pos - name_start);
      detail::skip_blanks(text, pos);
      if (pos == text.size() || text[pos] != '=') {
        fail_name(error::malformed_line, "expected '=' after label " + detail::quoted(l.name),
                  s.name);
        return;
      }
      ++pos;
      detail::skip_blanks(text, pos);
      if (pos == text.size() || text[pos] != '"') {
        fail_name(error::malformed_line, "value of label " + detail::quoted(l.name) + " is not quoted",
                  s.name);
        return;
      }
      if (!read_label_value(text, pos, l.value)) return;
      for (const label& other : labels_)
        if (other.name == l.name) {
          fail_name(error::duplicate_label, "duplicate label " + detail::quoted(l.name), s.name);
          return;
        }
      if (labels_.size() == config_.max_labels) {
        fail_name(error::malformed_line,
                  "more than " + std::to_string(config_.max_labels) + " labels", s.name);
        return;
      }
      labels_.push_back(l);
      detail::skip_blanks(text, pos);
      if (pos < text.size() && text[pos] == ',') {
        ++pos;  // a trailing comma before '}' is allowed
        continue;
      }
      if (pos < text.size() && text[pos] == '}') {
        ++pos;
        break;
      }
      fail_name(error::malformed_line,
                "expected ',' or '}' after label " + detail::quoted(l.name), s.name);
      return;
    }
  }
  s.labels = labels_;
  detail::skip_blanks(text, pos);
  if (pos == text.size()) {
    fail_name(error::malformed_line, "sample has no value", s.name);
    return;
  }
  if (!is(text[pos - 1], detail::c_blank) && text[pos - 1] != '}') {
    fail_name(error::malformed_line,
              "expected a blank before the value, got " + detail::quoted(text.substr(pos)), s.name);
    return;
  }
  const std::string_view value = detail::token(text, pos);
  if (!detail::parse_number(value, s.value)) {
    fail_name(error::invalid_number, "value " + detail::quoted(value) + " is not a number", s.name);
    return;
  }
  detail::skip_blanks(text, pos);
  if (pos < text.size() && text[pos] != '#') {
    const std::string_view ts = detail::token(text, pos);
    if (!detail::parse_number(ts, s.timestamp) || !std::isfinite(s.timestamp)) {
      fail_name(error::invalid_number, "timestamp " + detail::quoted(ts) + " is not a number",
                s.name);
      return;
    }
    s.has_timestamp = true;
    detail::skip_blanks(text, pos);
  }
  // OpenMetrics exemplars (" # {labels} value") carry nothing this parser reports.
  if (pos < text.size() && (text[pos] != '#' || text.size() - pos < 2 ||
                            !is(text[pos + 1], detail::c_blank))) {
    fail_name(error::malformed_line, "unexpected text after the value: " + detail::quoted(text.substr(pos)),
              s.name);
    return;
  }
  if (!classify(s.name, s)) return;
  switch (s.kind) {
    case sample_kind::bucket: {
      const std::string_view le = s.label_value("le");
      if (le.empty()) {
        fail_name(error::malformed_line, "histogram bucket has no \"le\" label", s.name);
        return;
      }
      if (!detail::parse_number(le, s.bound) || std::isnan(s.bound)) {
        fail_name(error::invalid_number, "le=" + detail::quoted(le) + " is not a number", s.name);
        return;
      }
      if (!(s.value >= 0)) {
        fail_name(error::negative_bucket_count,
                  "bucket le=" + detail::quoted(le) + " has count " + detail::quoted(value) +
                      " (counts are never negative)",
                  s.name);
        return;
      }
      break;
    }
    case sample_kind::quantile: {
      const std::string_view q = s.label_value("quantile");
      if (q.empty()) {
        fail_name(error::malformed_line, "summary sample has no \"quantile\" label", s.name);
        return;
      }
      if (!detail::parse_number(q, s.bound) || std::isnan(s.bound)) {
        fail_name(error::invalid_number, "quantile=" + detail::quoted(q) + " is not a number",
                  s.name);
        return;
      }
      break;
    }
    case sample_kind::count:
      if (!(s.value >= 0)) {
        fail_name(error::negative_bucket_count,
                  "count " + detail::quoted(value) + " is negative or NaN", s.name);
        return;
      }
      break;
    default:
      break;
  }
  sink_->on_sample(s);
}

}  // namespace planetserve::prom
