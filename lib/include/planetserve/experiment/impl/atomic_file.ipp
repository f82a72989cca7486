// SPDX-License-Identifier: MIT
// Compiled body of write_file_atomic and line_log.
#pragma once

#include <planetserve/experiment/atomic_file.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace planetserve::experiment {

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

boost::system::error_code write_file_atomic(const std::filesystem::path& path,
                                            std::string_view content, diagnostics& diag) {
  atomic_file_writer w;
  if (auto ec = w.open(path, diag)) return ec;
  w.write(content);
  return w.commit(diag);
}

boost::system::error_code atomic_file_writer::open(const std::filesystem::path& path, diagnostics& diag) {
  discard();
  path_ = path;
  tmp_ = path.string() + ".tmp." + std::to_string(::getpid());
  write_errno_ = 0;
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (!file_) {
    diag.message = "cannot write " + path.string() + ": " + errno_text();
    return error::file_unwritable;
  }
  return {};
}

void atomic_file_writer::write(std::string_view piece) noexcept {
  if (!file_ || write_errno_ != 0 || piece.empty()) return;
  if (std::fwrite(piece.data(), 1, piece.size(), file_) != piece.size()) write_errno_ = errno ? errno : EIO;
}

boost::system::error_code atomic_file_writer::commit(diagnostics& diag) {
  if (!file_) {
    diag.message = "cannot write " + path_.string() + ": the file was not opened";
    return error::file_unwritable;
  }
  const bool wrote = write_errno_ == 0;
  const bool flushed = wrote && std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const std::string why = !wrote ? std::strerror(write_errno_) : flushed ? std::string() : errno_text();
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  std::error_code ec;
  if (!wrote || !flushed || !closed) {
    std::filesystem::remove(tmp_, ec);
    diag.message = "cannot write " + path_.string() + ": " + (why.empty() ? errno_text() : why) +
                   " (is the disk full?)";
    return error::file_unwritable;
  }
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) {
    std::filesystem::remove(tmp_, ec);
    diag.message = "cannot write " + path_.string() + ": " + ec.message();
    return error::file_unwritable;
  }
  return {};
}

void atomic_file_writer::discard() noexcept {
  if (!file_) return;
  std::fclose(file_);
  file_ = nullptr;
  std::error_code ec;
  std::filesystem::remove(tmp_, ec);
}

line_log::~line_log() { close(); }

boost::system::error_code line_log::open(const std::filesystem::path& path, diagnostics& diag) {
  close();
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    diag.message = "cannot open " + path.string() + " for appending: " + errno_text();
    return error::file_unwritable;
  }
  struct stat st {};
  committed_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
  // Between flushes the lines stay in this buffer: at thousands of requests per second a
  // small buffer would cost a write() every few requests.
  pending_.reserve(1u << 20);
  pending_lines_ = dropped_lines_ = written_lines_ = 0;
  last_errno_ = 0;
  path_ = path;
  return {};
}

boost::system::error_code line_log::append(std::string_view line, diagnostics& diag) {
  if (fd_ < 0) {
    diag.message = "line log is not open";
    return error::file_unwritable;
  }
  if (pending_.size() + line.size() + 1 > max_pending_bytes && pending_lines_ > 0) {
    ++dropped_lines_;
  } else {
    pending_.append(line);
    pending_ += '\n';
    ++pending_lines_;
  }
  if (flush_interval.count() > 0 && std::chrono::steady_clock::now() - last_flush_ < flush_interval) return {};
  return flush(diag);
}

boost::system::error_code line_log::flush(diagnostics& diag) {
  if (fd_ < 0 || pending_.empty()) return {};
  last_flush_ = std::chrono::steady_clock::now();
  std::size_t done = 0;
  int err = 0;
  while (done < pending_.size()) {
    const auto n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) {
      err = ENOSPC;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  // Keep the whole lines that went out; cut a partial one back off the file and keep it.
  std::size_t whole = done;
  if (done < pending_.size()) {
    const auto last_nl = done == 0 ? std::string::npos : pending_.rfind('\n', done - 1);
    whole = last_nl == std::string::npos ? 0 : last_nl + 1;
    if (whole < done) {
      struct stat st {};
      if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) (void)::ftruncate(fd_, static_cast<off_t>(committed_ + whole));
    }
  }
  const std::size_t lines = static_cast<std::size_t>(std::count(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(whole), '\n'));
  committed_ += whole;
  written_lines_ += lines;
  pending_lines_ -= lines;
  pending_.erase(0, whole);
  last_errno_ = err;
  if (err == 0) return {};
  diag.message = "cannot append to " + path_.string() + ": " + std::strerror(err) + " (is the disk full?); " +
                 std::to_string(pending_lines_) + " line(s) kept in memory to retry";
  return error::file_unwritable;
}

boost::system::error_code line_log::close(diagnostics& diag) {
  if (fd_ < 0) return {};
  auto ec = flush(diag);
  const std::size_t lost = pending_lines_ + dropped_lines_;
  if (::close(fd_) != 0 && !ec) {
    diag.message = "cannot close " + path_.string() + ": " + errno_text();
    ec = error::file_unwritable;
  }
  fd_ = -1;
  pending_.clear();
  pending_lines_ = 0;
  if (lost > 0) {
    diag.message = path_.string() + " is missing " + std::to_string(lost) + " line(s) the disk did not take (" +
                   std::strerror(last_errno_ ? last_errno_ : ENOSPC) + ")";
    ec = error::file_unwritable;
  }
  return ec;
}

void line_log::close() noexcept {
  diagnostics d;
  (void)close(d);
}

}  // namespace planetserve::experiment
