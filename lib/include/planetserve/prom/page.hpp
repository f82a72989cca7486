// SPDX-License-Identifier: MIT
// prom::page: an owning model of a whole exposition page (families, samples, histogram series).
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/prom/parser.hpp>
#include <planetserve/prom/sample.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace planetserve::prom {

/// One sample, owning its strings.
struct sample {
  std::string name;                                         ///< sample name as written
  sample_kind kind = sample_kind::value;                    ///< role within its family
  std::vector<std::pair<std::string, std::string>> labels;  ///< labels in page order
  double value = 0;                                         ///< the value
  double bound = 0;                     ///< numeric `le` of a bucket or `quantile`; else 0
  std::optional<double> timestamp;      ///< as written, when present
  std::size_t line = 0;                 ///< 1-based line in the page

  /// The value of label `key`, or nullptr.
  const std::string* label(std::string_view key) const noexcept;
};

/// A metric family: metadata and its samples in page order.
struct family {
  std::string name;                          ///< family name
  metric_type type = metric_type::untyped;   ///< from `# TYPE`
  std::string help;                          ///< from `# HELP`, unescaped
  std::string unit;                          ///< from `# UNIT` (OpenMetrics)
  std::vector<sample> samples;               ///< in page order
};

/// One bucket of a histogram series.
struct bucket {
  double le = 0;     ///< upper bound (+Inf for the last)
  double count = 0;  ///< cumulative count
};

/// One histogram series: the samples of a histogram family sharing every label but `le`.
struct histogram_series {
  std::vector<std::pair<std::string, std::string>> labels;  ///< sorted by name, `le` excluded
  std::vector<bucket> buckets;  ///< sorted by `le` compared as numbers, whatever the page order
  std::optional<double> sum;    ///< `_sum`
  std::optional<double> count;  ///< `_count`
  std::optional<double> created;  ///< `_created` (OpenMetrics)
};

/// A parsed page. Families keep page order; a family whose samples were interleaved with
/// another's (the parser allows it) holds all of them.
struct page {
  std::vector<family> families;  ///< in order of first appearance
  bool eof = false;              ///< an OpenMetrics `# EOF` ended the page

  /// The family named `family_name`, or nullptr.
  const family* find(std::string_view family_name) const noexcept;
};

/// The histogram series of a histogram (or gauge histogram) family, in order of first
/// appearance, each with its buckets sorted numerically by `le`.
std::vector<histogram_series> histograms(const family& f);

/// A sample_sink that builds a page.
class page_builder final : public sample_sink {
 public:
  void on_metadata(const metadata_view& meta) override;
  void on_sample(const sample_view& sample) override;
  /// Moves the page out and starts a new one.
  page take();

 private:
  family& get(std::string_view name, metric_type type);
  page page_;
};

/// Parses a whole page into a model. On a malformed page returns the error and sets `diag`.
result<page> parse_page(std::string_view text, diagnostics* diag = nullptr);

}  // namespace planetserve::prom
