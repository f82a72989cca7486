// SPDX-License-Identifier: MIT
// Compiled body of the JSONL workload reader and writer.
#pragma once

#include <planetserve/workload/dataset.hpp>
#include <planetserve/workload/detail/jsonl_file.hpp>
#include <planetserve/workload/detail/jsonl_lines.hpp>
#include <planetserve/workload/detail/utf8.hpp>
#include <planetserve/workload/trace.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

namespace planetserve::workload {
namespace detail {

inline const char* kind_name(boost::json::kind k) noexcept {
  switch (k) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
  }
  return "something else";
}

inline std::string dq(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

/// A content that is a string, or an array of parts whose "text" strings are joined.
inline boost::system::error_code read_content(const boost::json::value& v, const std::string& where,
                                              std::string& out, diagnostics& diag) {
  if (const auto* s = v.if_string()) {
    out.assign(s->data(), s->size());
    return {};
  }
  if (const auto* parts = v.if_array()) {
    out.clear();
    for (std::size_t i = 0; i < parts->size(); ++i) {
      const auto* part = (*parts)[i].if_object();
      const boost::json::value* text = part ? part->if_contains("text") : nullptr;
      if (!text || !text->is_string()) {
        diag.message = where + "[" + std::to_string(i) + "] has no \"text\" string";
        return make_error_code(error::wrong_field_type);
      }
      out.append(text->get_string().data(), text->get_string().size());
    }
    return {};
  }
  diag.message = where + " is " + kind_name(v.kind()) + ", expected a string or an array of text parts";
  return make_error_code(error::wrong_field_type);
}

inline boost::system::error_code read_messages(const boost::json::array& arr, const std::string& field,
                                               prompt& out, diagnostics& diag) {
  if (arr.empty()) {
    diag.message = "field " + dq(field) + " is an empty messages array";
    return make_error_code(error::empty_input);
  }
  out.messages.clear();
  out.messages.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string where = field + "[" + std::to_string(i) + "]";
    const auto* msg = arr[i].if_object();
    if (!msg) {
      diag.message = where + " is " + kind_name(arr[i].kind()) + ", expected a message object";
      return make_error_code(error::wrong_field_type);
    }
    chat_message m;
    const auto* role = msg->if_contains("role");
    if (!role) {
      diag.message = where + " has no \"role\"";
      return make_error_code(error::missing_field);
    }
    if (!role->is_string()) {
      diag.message = where + ".role is " + kind_name(role->kind()) + ", expected a string";
      return make_error_code(error::wrong_field_type);
    }
    m.role.assign(role->get_string().data(), role->get_string().size());
    const auto* content = msg->if_contains("content");
    if (!content) {
      diag.message = where + " has no \"content\"";
      return make_error_code(error::missing_field);
    }
    if (auto ec = read_content(*content, where + ".content", m.content, diag)) return ec;
    out.messages.push_back(std::move(m));
  }
  out.text = message_text(out.messages);
  if (out.text.empty()) {
    diag.message = "field " + dq(field) + " holds only empty messages";
    return make_error_code(error::empty_input);
  }
  return {};
}

/// The object's first keys, quoted and joined by ", " (for "the line has ..." messages).
inline std::string key_list(const boost::json::object& obj) {
  std::string keys;
  std::size_t shown = 0;
  for (const auto& kv : obj) {
    if (shown == 8) {
      keys += ", ...";
      break;
    }
    if (shown++) keys += ", ";
    keys += dq(std::string_view(kv.key().data(), kv.key().size()));
  }
  return keys;
}

boost::system::error_code parse_json_object(std::string_view line, const dataset_config& config,
                                            std::string_view example, boost::json::value& out, diagnostics& diag) {
  if (line.size() > config.max_line_bytes) {
    diag.message = "line is " + std::to_string(line.size()) + " bytes, over the limit of " +
                   std::to_string(config.max_line_bytes) + " bytes (raise max_line_bytes / --max-line-bytes)";
    return make_error_code(error::line_too_long);
  }
  if (const auto bad = find_invalid_utf8(line); bad != std::string_view::npos) {
    diag.message = "invalid UTF-8 at byte " + std::to_string(bad + 1) + " of the line";
    return make_error_code(error::invalid_utf8);
  }
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 64;
  boost::json::parser parser({}, opts);
  // write() reports how far it got, which places the error within the line.
  const std::size_t used = parser.write(line.data(), line.size(), ec);
  if (ec) {
    diag.message = "invalid JSON " +
                   (used >= line.size() ? std::string("at the end of the line") : "at byte " + std::to_string(used + 1)) +
                   " (" + ec.message() + ")";
    return make_error_code(error::invalid_json);
  }
  out = parser.release();
  if (!out.is_object()) {
    diag.message = std::string("invalid JSON line: it is ") + kind_name(out.kind()) + ", expected an object like " +
                   std::string(example);
    return make_error_code(error::invalid_json);
  }
  return {};
}

boost::system::error_code jsonl_lines::add(std::string_view line, diagnostics& diag) {
  ++line_no_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (is_blank(line)) return {};
  ++lines_;
  line_diag_.clear();
  if (auto ec = parse(line, line_no_, line_diag_)) {
    std::string where = source_ + ":" + std::to_string(line_no_) + ": " + line_diag_.message;
    if (!config_.skip_bad_lines) {
      diag.message = std::move(where);
      return ec;
    }
    ++skipped_;
    if (skip_reasons_.size() < max_skip_reasons) skip_reasons_.push_back(std::move(where));
  }
  return {};
}

boost::system::error_code jsonl_lines::nothing_read(diagnostics& diag) const {
  if (lines_ == 0) {
    diag.message = source_ + ": holds no JSON lines (only blank lines)";
  } else {
    diag.message = source_ + ": all " + std::to_string(lines_) + " lines are bad; the first: " +
                   (skip_reasons_.empty() ? std::string("?") : skip_reasons_.front());
  }
  return make_error_code(error::empty_input);
}

boost::system::error_code jsonl_lines::feed_text(std::string_view text, diagnostics& diag) {
  if (const char* why = binary_reason(text)) {
    diag.message = source_ + ": not a JSONL text file: " + why;
    return make_error_code(error::binary_file);
  }
  return for_each_line(
      drop_bom(text), [&](std::string_view line) { return add(line, diag); }, [&] { return full(); });
}

boost::system::error_code jsonl_lines::feed_file(const std::filesystem::path& file, diagnostics& diag) {
  return read_lines(
      file, [&](std::string_view line) { return add(line, diag); }, [&] { return full(); }, diag);
}

}  // namespace detail

boost::system::error_code parse_line(std::string_view line, const dataset_config& config, prompt& out,
                                     diagnostics& diag) {
  boost::json::value v;
  if (auto ec = detail::parse_json_object(line, config, "{" + detail::dq(config.field) + ": \"...\"}", v, diag))
    return ec;
  const auto* obj = &v.get_object();
  const auto* field = obj->if_contains(boost::json::string_view(config.field.data(), config.field.size()));
  if (!field) {
    const std::string keys = detail::key_list(*obj);
    diag.message = "missing field " + detail::dq(config.field) +
                   (keys.empty() ? std::string(" (the object is empty)") : " (the line has " + keys + ")") +
                   "; choose the field with --field";
    return make_error_code(error::missing_field);
  }
  out.messages.clear();
  out.text.clear();
  if (const auto* s = field->if_string()) {
    if (s->empty()) {
      diag.message = "field " + detail::dq(config.field) + " is an empty string";
      return make_error_code(error::empty_input);
    }
    out.text.assign(s->data(), s->size());
    return {};
  }
  if (const auto* arr = field->if_array()) return detail::read_messages(*arr, config.field, out, diag);
  diag.message = "field " + detail::dq(config.field) + " is " + detail::kind_name(field->kind()) +
                 ", expected a string (or an OpenAI-style messages array)";
  return make_error_code(error::wrong_field_type);
}

namespace detail {

/// Turns JSONL lines into a dataset one line at a time: the in-memory and the file reader
/// share it, so a file is read only as far as max_prompts needs.
class dataset_builder final : public jsonl_lines {
 public:
  dataset_builder(std::string_view source, const dataset_config& config) : jsonl_lines(source, config), config_(config) {
    out_.source.assign(source);
    out_.field = config.field;
  }

  /// Whether max_prompts prompts are in.
  bool full() const noexcept override { return config_.max_prompts && out_.prompts.size() >= config_.max_prompts; }

  result<dataset> finish(diagnostics& diag) {
    if (out_.prompts.empty()) return nothing_read(diag);
    out_.lines = lines();
    out_.skipped = skipped();
    out_.skip_reasons = std::move(skip_reasons());
    return std::move(out_);
  }

 private:
  boost::system::error_code parse(std::string_view line, std::size_t line_no, diagnostics& diag) override {
    prompt p;
    if (auto ec = parse_line(line, config_, p, diag)) return ec;
    p.line = line_no;
    out_.prompts.push_back(std::move(p));
    return {};
  }

  const dataset_config& config_;
  dataset out_;
};

}  // namespace detail

result<dataset> parse_dataset(std::string_view text, std::string_view source, const dataset_config& config,
                              diagnostics& diag) {
  detail::dataset_builder b(source, config);
  if (auto ec = b.feed_text(text, diag)) return ec;
  return b.finish(diag);
}

namespace detail {

// The first non-blank line of `file` if it is within its first MiB (enough for any trace
// line); empty otherwise. Errors are left to the reader that follows.
inline std::string first_line(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(1 << 20, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  std::string_view rest = drop_bom(head);
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    if (end == std::string_view::npos) return {};
    std::string_view line = rest.substr(0, end);
    if (!is_blank(line)) return std::string(line);
    rest.remove_prefix(end + 1);
  }
  return {};
}

// Whether `file` is a Mooncake trace: asked for, or (auto) its first line has a trace's
// fields and not the prompt field.
inline bool is_trace(const std::filesystem::path& file, const dataset_config& config) {
  if (config.format != dataset_format::automatic) return config.format == dataset_format::mooncake;
  const std::string line = first_line(file);
  if (line.empty() || !looks_like_trace_line(line)) return false;
  boost::system::error_code ec;
  const auto v = boost::json::parse(line, ec);
  return !ec && v.is_object() && !v.as_object().contains(config.field);
}

}  // namespace detail

std::string_view dataset::prompt_text(std::size_t i, std::string& scratch) const {
  if (i >= trace_requests.size() || !prompts.at(i).text.empty()) return prompts.at(i).text;
  scratch.clear();
  append_prompt_text(trace_requests[i], trace_block_tokens, scratch);
  return scratch;
}

bool is_session_file(const std::filesystem::path& file, const dataset_config& config) {
  if (config.format != dataset_format::automatic) return config.format == dataset_format::sessions;
  const std::string line = detail::first_line(file);
  boost::system::error_code ec;
  const auto v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return false;
  const auto& o = v.as_object();
  const auto* c = o.if_contains("conversations");
  return c && c->is_array() && !o.contains(config.field);
}

namespace detail {

// A trace as prompts: each request's blocks made into text, its lengths and arrival kept.
inline result<dataset> trace_dataset(const std::filesystem::path& file, const dataset_config& config,
                                     diagnostics& diag) {
  trace_config tc;
  tc.block_tokens = config.trace_block_tokens;
  tc.skip_bad_lines = config.skip_bad_lines;
  tc.max_line_bytes = config.max_line_bytes;
  tc.max_requests = config.max_prompts;
  auto t = read_trace(file, tc, diag);
  if (!t) return t.error();
  dataset d;
  d.source = t->source;
  d.field = "hash_ids";
  d.lines = t->lines;
  d.skipped = t->skipped;
  d.skip_reasons = std::move(t->skip_reasons);
  d.prompts.reserve(t->requests.size());
  d.trace_block_tokens = config.trace_block_tokens;
  for (const auto& r : t->requests) {
    prompt p;
    if (!config.trace_text_on_demand) append_prompt_text(r, config.trace_block_tokens, p.text);
    p.line = r.line;
    p.from_trace = trace_origin{r.timestamp_ms, r.input_length, r.output_length,
                                static_cast<std::uint32_t>(r.hash_ids.size())};
    d.prompts.push_back(std::move(p));
  }
  if (config.trace_text_on_demand) d.trace_requests = std::move(t->requests);
  return d;
}

}  // namespace detail

result<dataset> read_dataset(const std::filesystem::path& file, const dataset_config& config, diagnostics& diag) {
  if (detail::is_trace(file, config)) return detail::trace_dataset(file, config, diag);
  detail::dataset_builder b(file.string(), config);
  if (auto ec = b.feed_file(file, diag)) return ec;
  return b.finish(diag);
}

std::string message_text(std::span<const chat_message> messages) {
  std::string out;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (i) out += '\n';
    out += messages[i].content;
  }
  return out;
}

std::string to_jsonl(const std::vector<std::string>& prompts, std::string_view field) {
  const std::string key = boost::json::serialize(boost::json::string_view(field.data(), field.size()));
  std::string out;
  for (const auto& p : prompts) {
    out += '{';
    out += key;
    out += ": ";
    out += boost::json::serialize(boost::json::string_view(p.data(), p.size()));
    out += "}\n";
  }
  return out;
}

boost::system::error_code write_dataset(const std::filesystem::path& file, const std::vector<std::string>& prompts,
                                        std::string_view field, diagnostics& diag) {
  return detail::write_text_file(file, to_jsonl(prompts, field), diag);
}

}  // namespace planetserve::workload
