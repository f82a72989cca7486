// SPDX-License-Identifier: MIT
// trace: Mooncake-format request traces (timestamp, lengths, hash ids of shared blocks) and the text or tokens they stand for.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/tokenize/tokenizer.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::workload {

/// One request of a trace, one JSON line:
/// {"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, ...]}.
/// Each hash id names a block of `block_tokens` prompt tokens; equal ids are equal blocks,
/// which is how the trace records the prefix sharing its cluster saw.
struct trace_request {
  double timestamp_ms = 0;          ///< arrival, milliseconds from an arbitrary origin, never decreasing
  std::uint32_t input_length = 0;   ///< prompt tokens
  std::uint32_t output_length = 0;  ///< output tokens the request produced
  std::vector<std::uint64_t> hash_ids;  ///< the prompt's blocks, in order
  std::size_t line = 0;             ///< 1-based line of the file
};

/// How a trace is read.
struct trace_config {
  std::size_t block_tokens = 512;   ///< tokens per hash id (Mooncake's traces: 512; Alibaba's: 16)
  bool skip_bad_lines = false;      ///< count and skip bad lines instead of failing on the first
  std::size_t max_line_bytes = 16 * 1024 * 1024;  ///< a longer line is a line_too_long error
  std::size_t max_requests = 0;     ///< stop after this many requests; 0 reads them all
};

/// A trace read from JSONL.
struct trace {
  std::string source;                     ///< the file name
  std::vector<trace_request> requests;    ///< in file order
  std::size_t lines = 0;                  ///< non-blank lines looked at
  std::size_t skipped = 0;                ///< bad lines skipped (only with skip_bad_lines)
  std::vector<std::string> skip_reasons;  ///< "file:line: reason" for the first few skipped lines
};

/// Whether a parsed JSON line has a trace's fields (input_length, output_length, hash_ids):
/// how a trace is told from a prompt file without --format.
bool looks_like_trace_line(std::string_view line) noexcept;

/// Reads one line (without its line ending) into `out`; `previous_ms` is the line before's
/// timestamp (timestamps may not go backwards). On failure returns the error and the reason
/// (without file:line) in `diag`: missing_field, wrong_field_type (missing, negative or
/// non-integral lengths, hash ids), invalid_argument (more hash ids than input_length needs,
/// a timestamp going backwards), invalid_json, line_too_long.
boost::system::error_code parse_trace_line(std::string_view line, const trace_config& config, double previous_ms,
                                           trace_request& out, diagnostics& diag);

/// Reads a trace file in blocks, stopping at max_requests; errors name the file and line.
result<trace> read_trace(const std::filesystem::path& file, const trace_config& config, diagnostics& diag);

/// The trace as JSONL, one {"timestamp", "input_length", "output_length", "hash_ids"} object
/// per line (timestamps in whole milliseconds when they are whole).
std::string to_trace_jsonl(const std::vector<trace_request>& requests);

/// Writes to_trace_jsonl(requests) to `file`; fails with file_unwritable naming the file.
boost::system::error_code write_trace(const std::filesystem::path& file, const std::vector<trace_request>& requests,
                                      diagnostics& diag);

/// Appends the text of block `hash_id`: `tokens` words, each a single token to Llama 3's
/// tokenizer (and about one to the approximate tokenizer), each with a leading space so that
/// blocks tokenize apart. The same id always gives the same bytes.
void append_block_text(std::uint64_t hash_id, std::size_t tokens, std::string& out);

/// Appends the same block as token ids, without making its text: the word's place in the
/// vocabulary (synthetic ids, equal for equal blocks; not any real tokenizer's ids).
void append_block_tokens(std::uint64_t hash_id, std::size_t tokens, std::vector<tokenize::token_id>& out);

/// The prompt `r` stands for: its hash ids' blocks, the last cut so the prompt has
/// input_length tokens. When the ids cover fewer tokens than input_length, the rest is
/// text of this request alone (seeded by its line), which no other request shares.
void append_prompt_text(const trace_request& r, std::size_t block_tokens, std::string& out);

/// The same prompt as synthetic token ids (append_block_tokens' ids), without text.
void append_prompt_tokens(const trace_request& r, std::size_t block_tokens, std::vector<tokenize::token_id>& out);

}  // namespace planetserve::workload
