// SPDX-License-Identifier: MIT
// Compiled body of the decision fixture reader.
#pragma once

#include <planetserve/detail/checked_cast.hpp>
#include <planetserve/workload/decision_fixture.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>

namespace planetserve::workload {

namespace {

// Reads `key` of `o` into `out` when present; an error names the line and the key.
struct fixture_line {
  const boost::json::object& o;
  std::string where;  // "file:line"
  diagnostics& diag;

  boost::system::error_code fail(std::string_view key, std::string_view what) const {
    diag.message = where + ": \"" + std::string(key) + "\" " + std::string(what);
    return make_error_code(error::wrong_field_type);
  }
  boost::system::error_code count(std::string_view key, std::size_t& out, bool required = false) const {
    auto* v = o.if_contains(key);
    if (!v) return required ? fail(key, "is missing") : boost::system::error_code{};
    boost::system::error_code ec;
    const auto x = v->is_number() ? v->to_number<std::uint64_t>(ec) : 0;
    if (!v->is_number() || ec) return fail(key, "must be a whole number, 0 or more");
    out = static_cast<std::size_t>(x);
    return {};
  }
  boost::system::error_code number(std::string_view key, double& out, bool required = false) const {
    auto* v = o.if_contains(key);
    if (!v) return required ? fail(key, "is missing") : boost::system::error_code{};
    if (!v->is_number() || !std::isfinite(v->to_number<double>()) || v->to_number<double>() < 0)
      return fail(key, "must be a number, 0 or more");
    out = v->to_number<double>();
    return {};
  }
  template <class T>
  boost::system::error_code list(std::string_view key, std::vector<T>& out, bool required = false) const {
    auto* v = o.if_contains(key);
    if (!v) return required ? fail(key, "is missing") : boost::system::error_code{};
    if (!v->is_array()) return fail(key, "must be an array");
    out.clear();
    for (const auto& x : v->get_array()) {
      boost::system::error_code ec;
      if constexpr (std::is_floating_point_v<T>) {
        if (!x.is_number()) return fail(key, "must hold numbers only");
        out.push_back(x.to_number<double>());
      } else {
        const auto t = x.is_number() ? x.to_number<T>(ec) : T{};
        if (!x.is_number() || ec) return fail(key, "must hold token ids (whole numbers up to 4294967295)");
        out.push_back(t);
      }
    }
    return {};
  }
};

}  // namespace

result<decision_fixture> parse_decision_fixture(std::string_view text, std::string_view source, diagnostics& diag) {
  decision_fixture f;
  bool have_scenario = false;
  std::size_t lineno = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = std::string(source) + ":" + std::to_string(lineno);
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) {
      diag.message = where + ": not a JSON object" + (ec ? " (" + ec.message() + ")" : std::string());
      return make_error_code(error::invalid_json);
    }
    const auto& o = v.get_object();
    const fixture_line in{o, where, diag};
    auto* kind = o.if_contains("kind");
    const std::string_view k = kind && kind->is_string() ? std::string_view(kind->get_string()) : std::string_view{};
    if (k == "scenario") {
      if (have_scenario) {
        diag.message = where + ": a second scenario line (a fixture has one, first)";
        return make_error_code(error::malformed_line);
      }
      have_scenario = true;
      auto& s = f.scenario;
      if (auto e = in.count("nodes", s.nodes, true)) return e;
      if (s.nodes == 0) return in.fail("nodes", "must be at least 1");
      if (auto e = in.count("chunk_tokens", s.chunk_tokens)) return e;
      if (s.chunk_tokens == 0) return in.fail("chunk_tokens", "must be at least 1");
      if (auto e = in.count("window_prompts", s.window_prompts)) return e;
      if (auto e = in.count("batch_size_tokens", s.batch_size_tokens)) return e;
      if (s.batch_size_tokens == 0) return in.fail("batch_size_tokens", "must be at least 1");
      if (auto e = in.count("service_tokens_per_step", s.service_tokens_per_step)) return e;
      if (auto e = in.number("ema_weight", s.ema_weight)) return e;
      if (s.ema_weight > 1) return in.fail("ema_weight", "must be in [0, 1]");
      if (auto e = in.list("initial_latency_ms", s.initial_latency_ms)) return e;
      if (!s.initial_latency_ms.empty() && s.initial_latency_ms.size() != s.nodes)
        return in.fail("initial_latency_ms", "must hold one value per node");
      if (auto e = in.count("completion_lag", s.completion_lag)) return e;
      if (auto e = in.list("baseline_tokens", s.baseline_tokens)) return e;
    } else if (k == "request") {
      if (!have_scenario) {
        diag.message = where + ": a request before the scenario line (the first line must be {\"kind\": \"scenario\", ...})";
        return make_error_code(error::missing_field);
      }
      fixture_request r;
      r.line = lineno;
      if (auto e = in.list("tokens", r.tokens, true)) return e;
      if (auto e = in.number("generation_time_s", r.generation_time_s)) return e;
      // Replays convert it to nanoseconds: past their range the conversion is undefined.
      if (!planetserve::detail::checked_seconds<std::chrono::nanoseconds>(r.generation_time_s))
        return in.fail("generation_time_s", "must be at most 9e9 seconds");
      if (o.contains("seed_choice")) {
        std::size_t c = 0;
        if (auto e = in.count("seed_choice", c)) return e;
        if (c >= f.scenario.nodes) return in.fail("seed_choice", "names a node beyond the scenario's nodes");
        r.expected = static_cast<dispatch::node_index>(c);
      }
      f.requests.push_back(std::move(r));
    } else {
      diag.message = where + ": \"kind\" must be \"scenario\" or \"request\"";
      return make_error_code(error::missing_field);
    }
  }
  if (!have_scenario) {
    diag.message = std::string(source) + ": no scenario line (expected {\"kind\": \"scenario\", \"nodes\": N, ...} first)";
    return make_error_code(error::empty_input);
  }
  return f;
}

result<decision_fixture> read_decision_fixture(const std::filesystem::path& file, diagnostics& diag) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diag.message = file.string() + ": cannot open (give a fixture file: a scenario line, then one request per line)";
    return make_error_code(error::file_not_found);
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_decision_fixture(text, file.string(), diag);
}

void apply_scenario(const fixture_scenario& s, dispatch::policy_config& c) {
  c.nodes = s.nodes;
  c.tree.chunk_tokens = s.chunk_tokens;
  c.tree.recent_prompts = s.window_prompts;
  c.lb.batch_size_tokens = s.batch_size_tokens;
  c.lb.service_tokens_per_step = s.service_tokens_per_step;
  c.lb.ema_weight = s.ema_weight;
  c.lb.initial_latencies.clear();
  for (double ms : s.initial_latency_ms) c.lb.initial_latencies.emplace_back(ms / 1e3);
  c.lb.seed_baseline_tokens = s.baseline_tokens;
}

}  // namespace planetserve::workload
