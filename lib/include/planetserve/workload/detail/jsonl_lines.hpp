// SPDX-License-Identifier: MIT
// jsonl_lines: line bookkeeping for JSONL record readers (line numbers, CRLF, blank and bad lines).
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/workload/dataset.hpp>

#include <boost/json/fwd.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::workload::detail {

/// Feeds JSONL lines to a record parser one at a time. Prompt and conversation files differ
/// only in what one line means; the line handling (line numbers, CRLF, blank lines,
/// skip_bad_lines with "source:line: reason", stopping early) is here once, and the reading
/// itself is jsonl_file.hpp's.
class jsonl_lines {
 public:
  /// `source` names the text in messages; `config` supplies skip_bad_lines.
  jsonl_lines(std::string_view source, const dataset_config& config) : source_(source), config_(config) {}
  virtual ~jsonl_lines() = default;
  jsonl_lines(const jsonl_lines&) = delete;
  jsonl_lines& operator=(const jsonl_lines&) = delete;

  /// One line without its '\n'. Fails on a bad line unless skip_bad_lines.
  boost::system::error_code add(std::string_view line, diagnostics& diag);

  /// Whether the parser wants no more lines (max_prompts reached, say).
  virtual bool full() const noexcept { return false; }

  /// The name messages use.
  const std::string& source() const noexcept { return source_; }
  /// Non-blank lines looked at.
  std::size_t lines() const noexcept { return lines_; }
  /// Bad lines skipped.
  std::size_t skipped() const noexcept { return skipped_; }
  /// "source:line: reason" of the first max_skip_reasons skipped lines.
  std::vector<std::string>& skip_reasons() noexcept { return skip_reasons_; }

  /// Feeds an in-memory text (binary_file for NUL bytes, UTF-16 or gzip; a BOM is dropped).
  boost::system::error_code feed_text(std::string_view text, diagnostics& diag);
  /// Feeds `file` through read_lines (errors name the file).
  boost::system::error_code feed_file(const std::filesystem::path& file, diagnostics& diag);

  /// empty_input with "source: holds no JSON lines" or "all N lines are bad; the first: ...".
  boost::system::error_code nothing_read(diagnostics& diag) const;

 protected:
  /// Parses one non-blank line (numbered `line_no` from 1); on failure puts the reason,
  /// without file:line, in `diag`.
  virtual boost::system::error_code parse(std::string_view line, std::size_t line_no, diagnostics& diag) = 0;

 private:
  std::string source_;
  const dataset_config& config_;
  std::size_t line_no_ = 0;
  std::size_t lines_ = 0;
  std::size_t skipped_ = 0;
  std::vector<std::string> skip_reasons_;
  diagnostics line_diag_;
};

/// Checks a line's length and UTF-8 and parses it into `out`, which must be a JSON object
/// (`example` shows one in the message otherwise). Reasons go to `diag` without file:line.
boost::system::error_code parse_json_object(std::string_view line, const dataset_config& config,
                                            std::string_view example, boost::json::value& out, diagnostics& diag);

}  // namespace planetserve::workload::detail
