// SPDX-License-Identifier: MIT
// Compiled body of goodput_spec parsing and the per-request goodput test.
#pragma once

#include <planetserve/experiment/goodput.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>

namespace planetserve::experiment {

namespace {

constexpr const char* goodput_example = "e.g. ttft:500,tpot:50,e2el:2000 (milliseconds)";

std::string goodput_number(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

result<goodput_spec> parse_goodput(std::string_view text, diagnostics& diag) {
  goodput_spec spec;
  bool any = false;
  auto fail = [&](const std::string& why) {
    diag.message = "goodput '" + std::string(text) + "': " + why + "; keys are ttft, tpot and e2el, " + goodput_example;
    return make_error_code(error::invalid_argument);
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const auto is_sep = [](char c) { return c == ',' || c == ' ' || c == '\t'; };
    if (is_sep(text[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && !is_sep(text[j])) ++j;
    const std::string_view pair = text.substr(i, j - i);
    i = j;
    const auto colon = pair.find(':');
    if (colon == std::string_view::npos)
      return fail("'" + std::string(pair) + "' is not KEY:MS");
    const std::string_view key = pair.substr(0, colon), value = pair.substr(colon + 1);
    std::optional<double>* slot = key == "ttft"   ? &spec.ttft_ms
                                  : key == "tpot" ? &spec.tpot_ms
                                  : key == "e2el" ? &spec.e2el_ms
                                                  : nullptr;
    if (!slot) return fail("unknown key '" + std::string(key) + "' in '" + std::string(pair) + "'");
    double v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(v) || v < 0)
      return fail("the value of '" + std::string(pair) + "' must be a number of milliseconds >= 0");
    if (slot->has_value()) return fail("'" + std::string(key) + "' is given twice");
    *slot = v;
    any = true;
  }
  if (!any) return fail("no KEY:MS pair");
  return spec;
}

std::string to_string(const goodput_spec& spec) {
  std::string out;
  auto put = [&](const char* key, const std::optional<double>& v) {
    if (!v) return;
    if (!out.empty()) out += ',';
    out += key;
    out += ':';
    out += goodput_number(*v);
  };
  put("ttft", spec.ttft_ms);
  put("tpot", spec.tpot_ms);
  put("e2el", spec.e2el_ms);
  return out;
}

bool meets_goodput(const request_record& r, const goodput_spec& spec) noexcept {
  if (!r.ok) return false;
  // A NaN latency (never measured) fails its bound: `<=` is false for NaN.
  if (spec.ttft_ms && !(r.ttft_s() * 1e3 <= *spec.ttft_ms)) return false;
  if (spec.tpot_ms && r.completion_tokens > 1 && !(r.tpot_s() * 1e3 <= *spec.tpot_ms)) return false;
  if (spec.e2el_ms && !(r.e2e_s() * 1e3 <= *spec.e2el_ms)) return false;
  return true;
}

}  // namespace planetserve::experiment
