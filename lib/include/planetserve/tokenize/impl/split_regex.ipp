// SPDX-License-Identifier: MIT
// Compiled body of tokenize::detail::split_regex.
#pragma once

#include <planetserve/tokenize/detail/split_regex.hpp>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utility>

namespace planetserve::tokenize::detail {

split_regex::split_regex(split_regex&& o) noexcept
    : code_(std::exchange(o.code_, nullptr)),
      data_(std::exchange(o.data_, nullptr)),
      context_(std::exchange(o.context_, nullptr)),
      stack_(std::exchange(o.stack_, nullptr)),
      jit_(o.jit_) {}

split_regex& split_regex::operator=(split_regex&& o) noexcept {
  if (this != &o) {
    reset();
    code_ = std::exchange(o.code_, nullptr);
    data_ = std::exchange(o.data_, nullptr);
    context_ = std::exchange(o.context_, nullptr);
    stack_ = std::exchange(o.stack_, nullptr);
    jit_ = o.jit_;
  }
  return *this;
}

split_regex::~split_regex() { reset(); }

void split_regex::reset() noexcept {
  pcre2_match_data_free(data_);
  pcre2_match_context_free(context_);
  pcre2_jit_stack_free(stack_);
  pcre2_code_free(code_);
  code_ = nullptr;
  data_ = nullptr;
  context_ = nullptr;
  stack_ = nullptr;
  jit_ = false;
}

bool split_regex::compile(std::string_view pattern, bool literal, std::string& error) {
  reset();
  int code = 0;
  PCRE2_SIZE offset = 0;
  // UCP: \s, \w, \d and the POSIX classes follow Unicode properties, as the reference's
  // JavaScript `u` flag and Rust's regex engines do.
  const std::uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0u);
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &code, &offset, nullptr);
  if (!code_) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(code, buf, sizeof buf);
    error = reinterpret_cast<const char*>(buf);
    error += " at offset " + std::to_string(offset);
    return false;
  }
  // Without JIT (a platform PCRE2 lacks it for) the interpreter gives the same matches, slower.
  jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
  data_ = pcre2_match_data_create_from_pattern(code_, nullptr);
  context_ = pcre2_match_context_create(nullptr);
  if (jit_) {
    // Long runs of one class (a megabyte of spaces) need more than the default 32 KiB.
    stack_ = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(context_, nullptr, stack_);
  }
  return true;
}

bool split_regex::find(std::string_view text, std::size_t from, std::size_t& begin, std::size_t& end) const {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  int rc = pcre2_match(code_, subject, text.size(), from, PCRE2_NO_UTF_CHECK, data_, context_);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
    rc = pcre2_match(code_, subject, text.size(), from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, data_, context_);
  if (rc < 0) return false;
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data_);
  begin = ov[0];
  end = ov[1];
  return true;
}

}  // namespace planetserve::tokenize::detail
