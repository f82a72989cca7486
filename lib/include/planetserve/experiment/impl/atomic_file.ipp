// SPDX-License-Identifier: MIT
// Compiled body of write_file_atomic and line_log.
#pragma once

#include <planetserve/experiment/atomic_file.hpp>

#include <cerrno>
#include <cstring>
#include <string>

#include <unistd.h>

namespace planetserve::experiment {

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

boost::system::error_code write_file_atomic(const std::filesystem::path& path,
                                            std::string_view content, diagnostics& diag) {
  const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    diag.message = "cannot write " + path.string() + ": " + errno_text();
    return error::file_unwritable;
  }
  const bool wrote = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const std::string why = (wrote && flushed) ? std::string() : errno_text();
  const bool closed = std::fclose(f) == 0;
  std::error_code ec;
  if (!wrote || !flushed || !closed) {
    std::filesystem::remove(tmp, ec);
    diag.message = "cannot write " + path.string() + ": " + (why.empty() ? errno_text() : why) +
                   " (is the disk full?)";
    return error::file_unwritable;
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    diag.message = "cannot write " + path.string() + ": " + ec.message();
    return error::file_unwritable;
  }
  return {};
}

line_log::~line_log() { close(); }

boost::system::error_code line_log::open(const std::filesystem::path& path, diagnostics& diag) {
  close();
  file_ = std::fopen(path.c_str(), "ab");
  if (!file_) {
    diag.message = "cannot open " + path.string() + " for appending: " + errno_text();
    return error::file_unwritable;
  }
  // Between flushes the lines stay in this buffer: at thousands of requests per second a
  // stdio-sized buffer would cost a write() every few requests.
  if (!buffer_) buffer_ = std::make_unique<char[]>(buffer_bytes);
  std::setvbuf(file_, buffer_.get(), _IOFBF, buffer_bytes);
  path_ = path;
  return {};
}

boost::system::error_code line_log::append(std::string_view line, diagnostics& diag) {
  if (!file_) {
    diag.message = "line log is not open";
    return error::file_unwritable;
  }
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fputc('\n', file_) == EOF) {
    diag.message = "cannot append to " + path_.string() + ": " + errno_text() + " (is the disk full?)";
    return error::file_unwritable;
  }
  if (flush_interval.count() > 0 && std::chrono::steady_clock::now() - last_flush_ < flush_interval) return {};
  return flush(diag);
}

boost::system::error_code line_log::flush(diagnostics& diag) {
  if (!file_) return {};
  last_flush_ = std::chrono::steady_clock::now();
  if (std::fflush(file_) != 0) {
    diag.message = "cannot append to " + path_.string() + ": " + errno_text() + " (is the disk full?)";
    return error::file_unwritable;
  }
  return {};
}

void line_log::close() noexcept {
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

}  // namespace planetserve::experiment
