// SPDX-License-Identifier: MIT
// Writing output files so that none is ever half-written: temp file, flush, rename.
#pragma once

#include <planetserve/error.hpp>

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
  /// Appends `line` and a newline, then flushes to the OS.
  boost::system::error_code append(std::string_view line, diagnostics& diag);
  void close() noexcept;
  bool is_open() const noexcept { return file_ != nullptr; }

 private:
  std::FILE* file_ = nullptr;
  std::filesystem::path path_;
};

}  // namespace planetserve::experiment
