// SPDX-License-Identifier: MIT
// prom::parser: a sans-io parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0 text.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/prom/sample.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::prom {

/// Limits of the parser.
struct parser_config {
  std::size_t max_line_bytes = 1 << 20;  ///< a longer line fails with error::line_too_long
  std::size_t max_labels = 256;          ///< more labels on one sample fail with malformed_line
};

/// Parses one exposition page fed in chunks of any size (split anywhere, even inside a
/// token) and reports every metadata line and sample to a sink. Rejects what the reference
/// Go parser rejects: bad names, duplicate label names, unknown escapes, unterminated
/// strings, values and timestamps that are not numbers, `le`/`quantile` labels that are not
/// numbers, negative bucket counts, a second HELP/TYPE for a family or a TYPE after its
/// samples, unknown types, and anything after `# EOF`. The first error stops the parse;
/// diag() then says "line N: what was wrong".
///
/// Samples may come in any order within a family (multi-process pages put `_sum` before
/// the buckets); a sample whose name leaves the current family rejoins an earlier family
/// of that name, like the Go parser does.
class parser {
 public:
  /// A parser reporting to `sink` (which must outlive it).
  explicit parser(sample_sink& sink, parser_config config = {});

  /// Parses every complete line in `chunk`, keeping a trailing partial line for later.
  /// Returns the first error of this page (also on every later call).
  boost::system::error_code feed(std::string_view chunk);

  /// Ends the page: parses a last line that has no newline. Returns the page's error.
  boost::system::error_code finish();

  /// Forgets the page so the parser (and its buffers) can take the next one.
  void reset();

  /// Why the page was rejected, or empty.
  const diagnostics& diag() const noexcept { return diag_; }
  /// The page's error so far.
  boost::system::error_code status() const noexcept { return ec_; }
  /// Lines seen so far (the number of the line being parsed, on error).
  std::size_t lines() const noexcept { return line_; }
  /// Whether an OpenMetrics `# EOF` line ended the page.
  bool saw_eof() const noexcept { return eof_; }

 private:
  struct family_state {
    metric_type type = metric_type::untyped;
    bool help = false;
    bool typed = false;
    bool has_samples = false;
  };

  void line(std::string_view text);
  void comment(std::string_view text);
  void sample(std::string_view text);
  bool fail(error e, std::string_view what);
  bool fail_name(error e, std::string_view what, std::string_view name);
  family_state& family(std::string_view name);
  void enter_family(std::string_view name, family_state& state);
  bool classify(std::string_view name, sample_view& out);
  bool read_label_value(std::string_view text, std::size_t& pos, std::string_view& out);

  sample_sink* sink_;
  parser_config config_;
  boost::system::error_code ec_;
  diagnostics diag_;
  std::size_t line_ = 0;
  bool eof_ = false;
  std::string partial_;                 // a line split across chunks
  std::string scratch_;                 // unescaped label values of the current line
  std::vector<label> labels_;           // labels of the current line
  // Family name hash -> state. A 64-bit hash instead of the name keeps a steady-state
  // parse free of allocations; a collision (odds ~n^2/2^64) would only merge two families'
  // duplicate-HELP/TYPE checks.
  boost::unordered_flat_map<std::uint64_t, family_state> families_;
  std::string current_;                 // name of the current family
  family_state* current_state_ = nullptr;
};

}  // namespace planetserve::prom
