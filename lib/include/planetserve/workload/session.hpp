// SPDX-License-Identifier: MIT
// session: multi-turn conversations read from ShareGPT or OpenAI-messages JSONL, and each turn's prompt.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/workload/dataset.hpp>

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::workload {

/// One exchange of a conversation: what the user said and what the dataset's assistant answered.
struct session_turn {
  std::string user;       ///< the user's message (several user messages in a row are joined by "\n")
  std::string assistant;  ///< the dataset's reply; may be empty (typically the last turn)
};

/// A multi-turn conversation.
struct session {
  std::string id;                  ///< the line's "id" (string or number), else its line number
  std::string system;              ///< the leading system message(s), joined by "\n"; empty if none
  std::vector<session_turn> turns; ///< at least one
  std::size_t line = 0;            ///< 1-based line of the file it came from
};

/// Conversations read from JSONL.
struct session_dataset {
  std::string source;                     ///< the file name (or the name given to parse_sessions)
  std::vector<session> sessions;          ///< in file order
  std::size_t lines = 0;                  ///< non-blank lines looked at
  std::size_t skipped = 0;                ///< bad lines skipped (only with skip_bad_lines)
  std::vector<std::string> skip_reasons;  ///< "file:line: reason" for the first few skipped lines

  /// Turns over all sessions (each one a request when replayed).
  std::size_t turns() const noexcept;
};

/// Reads one conversation line. Two shapes are accepted, told apart by their key:
/// ShareGPT's {"id", "conversations": [{"from": "human"|"gpt"|"system", "value"}]} (also
/// "user"/"assistant" and ShareGPT's "chatgpt"/"bing"/"bard" for the assistant) and OpenAI's
/// {"id", "messages": [{"role": "system"|"user"|"assistant", "content"}]}. System messages
/// must come before the first user message; assistant messages before it are an error.
/// Errors (reason without file:line in `diag`): invalid_json, missing_field (neither key),
/// wrong_field_type (wrong types, unknown role), empty_input (no user turn), invalid_utf8,
/// line_too_long. `config.field` is not used: the shape decides.
boost::system::error_code parse_session_line(std::string_view line, std::size_t line_no, const dataset_config& config,
                                             session& out, diagnostics& diag);

/// Parses JSONL conversations held in memory; `source` names it in messages. Errors as
/// parse_dataset's, each "source:line: reason"; config.max_prompts caps the sessions read.
result<session_dataset> parse_sessions(std::string_view text, std::string_view source, const dataset_config& config,
                                       diagnostics& diag);

/// Reads a JSONL conversation file (errors as read_dataset's, naming the file).
result<session_dataset> read_sessions(const std::filesystem::path& file, const dataset_config& config,
                                      diagnostics& diag);

/// The messages of turn `k`'s request: the system message (if any), then for each earlier
/// turn i the user's message and an assistant reply, then turn k's user message. The reply
/// of turn i is `replies[i]` when i < replies.size() (the replies a run actually received:
/// --history live), else the dataset's (--history dataset). Throws std::out_of_range if k
/// is not a turn of `s`.
std::vector<chat_message> turn_messages(const session& s, std::size_t k, std::span<const std::string> replies = {});

/// Sessions as ShareGPT JSONL: {"id": ..., "conversations": [{"from": "system"|"human"|"gpt",
/// "value": ...}]} per line; an empty reply is written except on the last turn, so reading
/// the text back gives the same sessions.
std::string to_sharegpt_jsonl(std::span<const session> sessions);

}  // namespace planetserve::workload
