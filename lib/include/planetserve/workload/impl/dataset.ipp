// SPDX-License-Identifier: MIT
// Compiled body of the JSONL workload reader and writer.
#pragma once

#include <planetserve/workload/dataset.hpp>
#include <planetserve/workload/detail/jsonl_lines.hpp>
#include <planetserve/workload/detail/utf8.hpp>

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

/// Names a binary-looking text, or returns nullptr when it looks like text.
inline const char* binary_reason(std::string_view text) noexcept {
  if (text.size() >= 2) {
    const auto b0 = static_cast<unsigned char>(text[0]);
    const auto b1 = static_cast<unsigned char>(text[1]);
    if ((b0 == 0xFF && b1 == 0xFE) || (b0 == 0xFE && b1 == 0xFF))
      return "it is UTF-16 text (convert it to UTF-8 first)";
    if (b0 == 0x1F && b1 == 0x8B) return "it is gzip-compressed (decompress it first)";
  }
  if (text.find('\0') != std::string_view::npos) return "it holds NUL bytes (expected UTF-8 JSON lines)";
  return nullptr;
}

inline bool is_blank(std::string_view line) noexcept {
  for (char c : line)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return false;
  return true;
}

}  // namespace detail

namespace detail {

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

/// Turns JSONL lines into a dataset of prompts.
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

inline std::string_view drop_bom(std::string_view text) noexcept {
  // A UTF-8 byte order mark is harmless: drop it.
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
  return text;
}

boost::system::error_code feed_jsonl_text(std::string_view text, jsonl_lines& lines, diagnostics& diag) {
  if (const char* why = binary_reason(text)) {
    diag.message = lines.source() + ": not a JSONL text file: " + why;
    return make_error_code(error::binary_file);
  }
  text = drop_bom(text);
  std::size_t pos = 0;
  while (pos < text.size() && !lines.full()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    if (auto ec = lines.add(text.substr(pos, end - pos), diag)) return ec;
    pos = end + 1;
  }
  return {};
}

boost::system::error_code feed_jsonl_file(const std::filesystem::path& file, jsonl_lines& lines, diagnostics& diag) {
  const std::string name = file.string();
  std::error_code fec;
  const auto status = std::filesystem::status(file, fec);
  if (!std::filesystem::exists(status)) {
    diag.message = name + ": no such file";
    return make_error_code(error::file_not_found);
  }
  if (std::filesystem::is_directory(status)) {
    diag.message = name + ": is a directory, expected a JSONL file";
    return make_error_code(error::file_unreadable);
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diag.message = name + ": cannot be opened for reading (" + std::strerror(errno) + ")";
    return make_error_code(error::file_unreadable);
  }
  // Read in blocks and stop once the parser is full: `--maxq 5` on a 300 MB file
  // reads a few kilobytes. Memory is one block plus the longest line.
  std::string pending;
  std::vector<char> block(1 << 20);
  bool first = true, any = false;
  while (!lines.full()) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    std::string_view chunk(block.data(), got);
    if (first) {
      first = false;
      if (const char* why = binary_reason(chunk)) {
        diag.message = name + ": not a JSONL text file: " + why;
        return make_error_code(error::binary_file);
      }
      chunk = drop_bom(chunk);
    } else if (chunk.find('\0') != std::string_view::npos) {
      diag.message = name + ": not a JSONL text file: it holds NUL bytes (expected UTF-8 JSON lines)";
      return make_error_code(error::binary_file);
    }
    any = true;
    pending.append(chunk);
    std::size_t pos = 0;
    for (std::size_t end; !lines.full() && (end = pending.find('\n', pos)) != std::string::npos; pos = end + 1)
      if (auto ec = lines.add(std::string_view(pending).substr(pos, end - pos), diag)) return ec;
    pending.erase(0, pos);
  }
  if (in.bad()) {
    diag.message = name + ": read failed";
    return make_error_code(error::file_unreadable);
  }
  if (!any) {
    diag.message = name + ": is empty, expected one JSON object per line";
    return make_error_code(error::empty_input);
  }
  if (!lines.full() && !pending.empty())
    if (auto ec = lines.add(pending, diag)) return ec;
  return {};
}

}  // namespace detail

result<dataset> parse_dataset(std::string_view text, std::string_view source, const dataset_config& config,
                              diagnostics& diag) {
  detail::dataset_builder b(source, config);
  if (auto ec = detail::feed_jsonl_text(text, b, diag)) return ec;
  return b.finish(diag);
}

result<dataset> read_dataset(const std::filesystem::path& file, const dataset_config& config, diagnostics& diag) {
  detail::dataset_builder b(file.string(), config);
  if (auto ec = detail::feed_jsonl_file(file, b, diag)) return ec;
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
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) {
    diag.message = file.string() + ": cannot be opened for writing (" + std::strerror(errno) + ")";
    return make_error_code(error::file_unwritable);
  }
  const std::string text = to_jsonl(prompts, field);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    diag.message = file.string() + ": write failed";
    return make_error_code(error::file_unwritable);
  }
  return {};
}

}  // namespace planetserve::workload
