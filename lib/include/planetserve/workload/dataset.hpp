// SPDX-License-Identifier: MIT
// dataset: the strict JSONL reader for workload files (one JSON object per line, one prompt each).
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/workload/chat_message.hpp>
#include <planetserve/workload/trace.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::workload {

/// What a workload file holds.
enum class dataset_format {
  automatic,  ///< a trace if the first line has a trace's fields and not the prompt field, else prompts
  prompts,    ///< one prompt per line, in `field`
  mooncake,   ///< a Mooncake-format trace: timestamp, input_length, output_length, hash_ids
  sessions,   ///< multi-turn conversations (ShareGPT `conversations` or OpenAI `messages`), one per line
};

/// How a JSONL workload file is read.
struct dataset_config {
  /// The JSON field that holds the prompt: a string, or an OpenAI-style messages array.
  std::string field = "workload";
  /// Skip bad lines (and count them) instead of failing on the first one.
  bool skip_bad_lines = false;
  /// Longest accepted line in bytes, line ending excluded; a longer line is a line_too_long error.
  std::size_t max_line_bytes = 16 * 1024 * 1024;
  /// Stop after this many prompts; 0 reads them all.
  std::size_t max_prompts = 0;
  /// Prompts or a trace.
  dataset_format format = dataset_format::automatic;
  /// A trace's tokens per hash id (Mooncake's: 512, Alibaba's: 16).
  std::size_t trace_block_tokens = 512;
  /// A trace's prompts keep no text: dataset::trace_requests keeps the block ids and
  /// prompt_text() makes a prompt's text when it is needed (a million 2,000-token prompts
  /// are 8 GB of text, their block ids a few MB).
  bool trace_text_on_demand = false;
};

/// A trace request a prompt was made from (see trace.hpp).
struct trace_origin {
  double timestamp_ms = 0;          ///< its arrival in the trace
  std::uint32_t input_length = 0;   ///< prompt tokens the trace asked for
  std::uint32_t output_length = 0;  ///< output tokens: sent as max_tokens = min_tokens with ignore_eos
  std::uint32_t hash_ids = 0;       ///< blocks the trace named
};

/// One prompt of a workload.
struct prompt {
  /// The prompt text. For a messages array: the message contents joined by "\n", which is
  /// what prefix routing and the completions API see.
  std::string text;
  /// Only when the field was a messages array: the messages themselves, for the chat API.
  std::vector<chat_message> messages;
  /// 1-based line of the file it came from.
  std::size_t line = 0;
  /// Only for a trace's request: what the trace asked for.
  std::optional<trace_origin> from_trace;
};

/// A workload read from JSONL.
struct dataset {
  std::string source;                     ///< the file name (or the name given to parse_dataset)
  std::string field;                      ///< the field the prompts were read from
  std::vector<prompt> prompts;            ///< in file order
  std::size_t lines = 0;                  ///< non-blank lines looked at
  std::size_t skipped = 0;                ///< bad lines skipped (only with skip_bad_lines)
  std::vector<std::string> skip_reasons;  ///< "file:line: reason" for the first few skipped lines
  /// A trace read with trace_text_on_demand: request i of the trace is prompts[i], whose text is empty.
  std::vector<trace_request> trace_requests;
  std::size_t trace_block_tokens = 512;   ///< tokens per hash id of `trace_requests`

  /// Prompt `i`'s text: prompts[i].text, or (trace_text_on_demand) its trace blocks' text, written into `scratch`.
  std::string_view prompt_text(std::size_t i, std::string& scratch) const;
};

/// How many skip reasons a dataset keeps.
inline constexpr std::size_t max_skip_reasons = 10;

/// Reads one JSONL line (without its line ending) into `out`. On failure returns the error
/// and puts the reason (without file:line) in `diag`. Blank lines are the caller's business.
boost::system::error_code parse_line(std::string_view line, const dataset_config& config, prompt& out,
                                     diagnostics& diag);

/// Parses a whole JSONL text held in memory; `source` names it in messages.
/// Errors: empty_input (nothing but blank lines, or every line bad), binary_file (NUL bytes,
/// UTF-16, gzip), and per line invalid_json, missing_field, wrong_field_type, invalid_utf8,
/// line_too_long, each named "source:line: reason" in `diag`.
result<dataset> parse_dataset(std::string_view text, std::string_view source, const dataset_config& config,
                              diagnostics& diag);

/// Whether `file` holds conversations to replay as sessions: asked for (format sessions),
/// or (automatic) its first line has a `conversations` array and not the prompt field.
bool is_session_file(const std::filesystem::path& file, const dataset_config& config);

/// Reads a JSONL file; adds file_not_found, file_unreadable and empty_input (empty file)
/// to parse_dataset's errors, each naming the file. A Mooncake trace (config.format, or
/// recognised by its fields) becomes prompts whose text its hash ids stand for (trace.hpp),
/// each with its from_trace.
result<dataset> read_dataset(const std::filesystem::path& file, const dataset_config& config, diagnostics& diag);

/// Writes prompts as JSONL, one {"<field>": "<prompt>"} object per line, "\n" line endings.
/// Fails with file_unwritable naming the file.
boost::system::error_code write_dataset(const std::filesystem::path& file, const std::vector<std::string>& prompts,
                                        std::string_view field, diagnostics& diag);

/// The text prefix routing and the completions API see for a chat prompt: the message
/// contents joined by "\n" (what prompt::text holds for a messages array).
std::string message_text(std::span<const chat_message> messages);

/// The JSONL text write_dataset would write.
std::string to_jsonl(const std::vector<std::string>& prompts, std::string_view field);

}  // namespace planetserve::workload
