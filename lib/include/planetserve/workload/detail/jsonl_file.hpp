// SPDX-License-Identifier: MIT
// jsonl_file: reads a JSONL file in blocks, line by line, for the prompt and the trace readers alike.
#pragma once

#include <planetserve/error.hpp>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace planetserve::workload::detail {

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

inline std::string_view drop_bom(std::string_view text) noexcept {
  // A UTF-8 byte order mark is harmless: drop it.
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
  return text;
}

/// Hands each line of `text` (without its '\n') to `add(line)` until it fails or `done()`.
template <class Add, class Done>
boost::system::error_code for_each_line(std::string_view text, Add&& add, Done&& done) {
  std::size_t pos = 0;
  while (pos < text.size() && !done()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    if (auto ec = add(text.substr(pos, end - pos))) return ec;
    pos = end + 1;
  }
  return {};
}

/// Reads `file` in 1 MiB blocks and hands each line (without its '\n') to `add(line)`, until
/// `add` fails or `done()`: `--maxq 5` on a 300 MB file reads a few kilobytes, and memory is
/// one block plus the longest line. Fails, naming the file, when it is missing, a directory,
/// unreadable, empty, or binary (UTF-16, gzip, NUL bytes); a UTF-8 BOM is dropped.
template <class Add, class Done>
boost::system::error_code read_lines(const std::filesystem::path& file, Add&& add, Done&& done, diagnostics& diag) {
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
  std::string pending;
  std::vector<char> block(1 << 20);
  bool first = true, any = false;
  while (!done()) {
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
    for (std::size_t end; !done() && (end = pending.find('\n', pos)) != std::string::npos; pos = end + 1)
      if (auto ec = add(std::string_view(pending).substr(pos, end - pos))) return ec;
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
  if (!done() && !pending.empty())
    if (auto ec = add(std::string_view(pending))) return ec;
  return {};
}

/// Writes `text` to `file` (truncating it); fails with file_unwritable naming the file.
inline boost::system::error_code write_text_file(const std::filesystem::path& file, std::string_view text,
                                                 diagnostics& diag) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) {
    diag.message = file.string() + ": cannot be opened for writing (" + std::strerror(errno) + ")";
    return make_error_code(error::file_unwritable);
  }
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    diag.message = file.string() + ": write failed";
    return make_error_code(error::file_unwritable);
  }
  return {};
}

}  // namespace planetserve::workload::detail
