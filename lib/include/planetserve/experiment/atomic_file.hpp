// SPDX-License-Identifier: MIT
// Writing output files so that none is ever half-written: temp file, flush, rename.
#pragma once

#include <planetserve/error.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string_view>

namespace planetserve::experiment {

/// Writes `content` to `path` through `<path>.tmp.<pid>` and a rename, so a reader sees either
/// the old file or the whole new one. On failure (disk full, no permission) the temporary file
/// is removed and the error names the path.
boost::system::error_code write_file_atomic(const std::filesystem::path& path,
                                            std::string_view content, diagnostics& diag);

/// An append-only line log (requests.jsonl): each line is written and flushed as it comes,
/// so a crash or Ctrl-C loses nothing that was already appended.
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
  std::FILE* file_ = nullptr;
  std::chrono::steady_clock::time_point last_flush_{};
  std::filesystem::path path_;
};

}  // namespace planetserve::experiment
