// SPDX-License-Identifier: MIT
// Writing output files so that none is ever half-written: temp file, flush, rename.
#pragma once

#include <planetserve/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace planetserve::experiment {

/// Writes `content` to `path` through `<path>.tmp.<pid>` and a rename, so a reader sees either
/// the old file or the whole new one. On failure (disk full, no permission) the temporary file
/// is removed and the error names the path.
boost::system::error_code write_file_atomic(const std::filesystem::path& path,
                                            std::string_view content, diagnostics& diag);

/// write_file_atomic in pieces, for a file too large to build in memory first (the
/// experiment_results.json of a million requests): the pieces go to a temporary file beside
/// `path` (its name, then .tmp. and the process id), and commit() flushes, syncs and renames
/// it onto `path`. Until then readers see the old file; a writer destroyed or discarded before
/// commit() removes the temporary file.
class atomic_file_writer {
 public:
  atomic_file_writer() = default;
  atomic_file_writer(const atomic_file_writer&) = delete;
  atomic_file_writer& operator=(const atomic_file_writer&) = delete;
  ~atomic_file_writer() { discard(); }

  /// Creates the temporary file; the error names `path`.
  boost::system::error_code open(const std::filesystem::path& path, diagnostics& diag);
  /// Appends `piece`. A failure (disk full) is kept and reported by commit().
  void write(std::string_view piece) noexcept;
  /// Makes the file `path`'s content; on failure the temporary file goes and the error names
  /// `path` and why (a write that failed earlier included).
  boost::system::error_code commit(diagnostics& diag);
  /// Drops the temporary file; `path` keeps what it had.
  void discard() noexcept;

 private:
  std::FILE* file_ = nullptr;
  std::filesystem::path path_, tmp_;
  int write_errno_ = 0;
};

/// An append-only line log (requests.jsonl, metrics_timeline.jsonl): lines reach the OS at
/// most `flush_interval` after they are appended (and on flush() and close()), so a crash or
/// Ctrl-C loses at most that much. The file only ever holds whole lines: a write the disk
/// could not take in full is cut back to its last whole line, and the lines not written stay
/// in memory (up to `max_pending_bytes`) and are written by the next flush, when the disk
/// may have room again.
class line_log {
 public:
  line_log() = default;
  line_log(const line_log&) = delete;
  line_log& operator=(const line_log&) = delete;
  ~line_log();

  /// Opens (creating or appending to) `path`.
  boost::system::error_code open(const std::filesystem::path& path, diagnostics& diag);
  /// Appends `line` and a newline; hands the buffer to the OS when `flush_interval` has passed
  /// since the last flush (one write per request would cost a system call each). An error
  /// says lines could not be written yet (they are kept, see the class comment).
  boost::system::error_code append(std::string_view line, diagnostics& diag);
  /// Hands buffered lines to the OS now (call it from a periodic timer). Errors name the file.
  boost::system::error_code flush(diagnostics& diag);
  /// Longest time appended lines stay in the process's buffer (0: flush every line).
  std::chrono::milliseconds flush_interval{100};
  /// Most bytes of lines kept in memory while the disk takes none; lines past it are dropped
  /// (and counted) rather than let a long run on a full disk use up memory.
  std::size_t max_pending_bytes = 64u << 20;
  /// Flushes what it can and closes; an error says lines are missing from the file.
  boost::system::error_code close(diagnostics& diag);
  /// Closes without a report (what close(diag) could not write is lost).
  void close() noexcept;
  /// Whether the file is open for appending.
  bool is_open() const noexcept { return fd_ >= 0; }
  /// Lines appended but not in the file (yet).
  std::size_t pending_lines() const noexcept { return pending_lines_; }
  /// Lines given up because more than max_pending_bytes were waiting.
  std::size_t dropped_lines() const noexcept { return dropped_lines_; }
  /// Lines in the file since open().
  std::size_t written_lines() const noexcept { return written_lines_; }
  /// The file's path.
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::string pending_;           // whole lines not yet in the file
  std::size_t pending_lines_ = 0;
  std::size_t dropped_lines_ = 0;
  std::size_t written_lines_ = 0;
  std::uint64_t committed_ = 0;   // the file's size after its last whole line
  int last_errno_ = 0;            // why the last write failed (0: it did not)
  int fd_ = -1;
  std::chrono::steady_clock::time_point last_flush_{};
  std::filesystem::path path_;
};

}  // namespace planetserve::experiment
