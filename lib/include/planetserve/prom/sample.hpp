// SPDX-License-Identifier: MIT
// The events a Prometheus text parser reports: metadata lines and samples, as views into the page.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace planetserve::prom {

/// A family's type from `# TYPE` (text format 0.0.4 and OpenMetrics 1.0 words).
enum class metric_type : unsigned char {
  untyped,         ///< no `# TYPE` line, or `untyped` (0.0.4)
  counter,         ///< `counter`
  gauge,           ///< `gauge`
  histogram,       ///< `histogram`
  summary,         ///< `summary`
  unknown,         ///< `unknown` (OpenMetrics' untyped)
  gaugehistogram,  ///< `gaugehistogram` (OpenMetrics)
  stateset,        ///< `stateset` (OpenMetrics)
  info,            ///< `info` (OpenMetrics)
};

/// The word used for `t` in a `# TYPE` line.
std::string_view to_string(metric_type t) noexcept;

/// What a sample is within its family, from its name's suffix and the family type.
enum class sample_kind : unsigned char {
  value,     ///< the family's own name: a gauge, untyped, 0.0.4 counter or summary quantile
  total,     ///< `_total` of an OpenMetrics counter
  bucket,    ///< `_bucket` of a histogram (sample_view::bound holds `le`)
  sum,       ///< `_sum` of a histogram or summary, `_gsum` of a gauge histogram
  count,     ///< `_count` of a histogram or summary, `_gcount` of a gauge histogram
  created,   ///< `_created` inside an OpenMetrics family
  quantile,  ///< a summary's quantile (sample_view::bound holds `quantile`)
  info,      ///< `_info` of an OpenMetrics info family
};

/// One label as written; `value` is unescaped.
struct label {
  std::string_view name;   ///< label name
  std::string_view value;  ///< label value with `\\`, `\"` and `\n` resolved
};

/// One sample line. Views stay valid only during the callback that receives it.
struct sample_view {
  std::string_view name;          ///< the sample's name as written (e.g. `x_bucket`)
  std::string_view family;        ///< the family it belongs to (from `# TYPE`), or `name`
  metric_type type = metric_type::untyped;  ///< the family's type
  sample_kind kind = sample_kind::value;    ///< what the sample is within the family
  std::span<const label> labels;  ///< every label in page order, `le`/`quantile` included
  double value = 0;               ///< the sample value (NaN and infinities allowed)
  double bound = 0;               ///< `le` of a bucket or `quantile` of a quantile; else 0
  bool has_timestamp = false;     ///< a timestamp followed the value
  double timestamp = 0;           ///< as written: ms in 0.0.4, seconds in OpenMetrics
  std::size_t line = 0;           ///< 1-based line number in the page

  /// The value of label `key`, or an empty view when absent.
  std::string_view label_value(std::string_view key) const noexcept {
    for (const auto& l : labels)
      if (l.name == key) return l.value;
    return {};
  }
};

/// A `# HELP`, `# TYPE` or `# UNIT` line.
struct metadata_view {
  /// Which of the three lines this is.
  enum class what : unsigned char { help, type, unit };
  what kind = what::help;                   ///< which line
  std::string_view family;                  ///< the family name
  std::string_view text;                    ///< HELP text (unescaped) or the UNIT; empty for TYPE
  metric_type type = metric_type::untyped;  ///< the type, for a TYPE line
  std::size_t line = 0;                     ///< 1-based line number
};

/// Receives what the parser finds, in page order.
class sample_sink {
 public:
  virtual ~sample_sink() = default;
  /// A metadata line; the default ignores it.
  virtual void on_metadata(const metadata_view&) {}
  /// A sample line that passed every check.
  virtual void on_sample(const sample_view& sample) = 0;
};

}  // namespace planetserve::prom
