// SPDX-License-Identifier: MIT
// tokenize::detail::split_regex: a pre-tokenizer's pattern, compiled by PCRE2 (UTF, Unicode properties, JIT).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;
struct pcre2_real_match_context_8;
struct pcre2_real_jit_stack_8;

namespace planetserve::tokenize::detail {

/// One compiled pattern and the scratch space to run it. Matching is not thread-safe (the
/// match data is shared); the owner serializes calls. Texts must be valid UTF-8.
class split_regex {
 public:
  split_regex() = default;
  split_regex(split_regex&& other) noexcept;
  split_regex& operator=(split_regex&& other) noexcept;
  split_regex(const split_regex&) = delete;
  split_regex& operator=(const split_regex&) = delete;
  ~split_regex();

  /// Compiles `pattern` (a regular expression, or a literal string when `literal`). On
  /// failure returns false with PCRE2's message and the offset in `error`.
  bool compile(std::string_view pattern, bool literal, std::string& error);

  /// Finds the first match starting at or after `from`; sets [begin, end). Empty matches are
  /// reported too (the caller steps past them).
  bool find(std::string_view text, std::size_t from, std::size_t& begin, std::size_t& end) const;

  bool jit() const noexcept { return jit_; }

 private:
  void reset() noexcept;

  pcre2_real_code_8* code_ = nullptr;
  pcre2_real_match_data_8* data_ = nullptr;
  pcre2_real_match_context_8* context_ = nullptr;
  pcre2_real_jit_stack_8* stack_ = nullptr;
  bool jit_ = false;
};

}  // namespace planetserve::tokenize::detail
