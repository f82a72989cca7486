// SPDX-License-Identifier: MIT
// Writing output files so that none is ever half-written: temp file, flush, rename.
#pragma once

#include <planetserve/error.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string_view>

namespace planetserve::experiment {

/// Writes `content` to `path` through `<path>.tmp.<pid>` and a rename, so a reader sees either
/// the old file or the whole new one. On failure (disk full, no permission) the temporary file
/// is removed and the error names the path.
boost::system::error_code write_file_atomic(const std::filesystem::path& path,
                                            std::string_view content, diagnostics& diag);

/// An append-only line log (requests.jsonl): lines reach the OS at most `flush_interval`
/// after they are appended (and on flush() and close()), so a crash or Ctrl-C loses at most
/// that much; the buffer is large enough that nothing is written in between.
class line_log {
 public:
  line_log() = default;
  line_log(const line_log&) = delete;
  line_log& operator=(const line_log&) = delete;
  ~line_log();

  /// Opens (creating or appending to) `path`.
  boost::system::error_code open(const std::filesystem::path& path, diagnostics& diag);
  /// Appends `line` and a newline; hands the buffer to the OS when `flush_interval` has passed
  /// since the last flush (one write per request would cost a system call each).
  boost::system::error_code append(std::string_view line, diagnostics& diag);
  /// Hands buffered lines to the OS now (call it from a periodic timer).
  boost::system::error_code flush(diagnostics& diag);
  /// Longest time appended lines stay in the process's buffer (0: flush every line).
  std::chrono::milliseconds flush_interval{100};
  void close() noexcept;
  bool is_open() const noexcept { return file_ != nullptr; }

 private:
  static constexpr std::size_t buffer_bytes = 1u << 20;
  std::unique_ptr<char[]> buffer_;
  std::FILE* file_ = nullptr;
  std::chrono::steady_clock::time_point last_flush_{};
  std::filesystem::path path_;
};

}  // namespace planetserve::experiment
