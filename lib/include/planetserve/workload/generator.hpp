// SPDX-License-Identifier: MIT
// generator: synthetic workloads shaped like the paper's (toolbench, loogle, aaps, mixed).
#pragma once

#include <planetserve/error.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::workload {

/// Which kind of workload to make.
enum class dataset_kind {
  toolbench,  ///< K long tool-set system prompts (Zipf-popular) + a short unique request
  loogle,     ///< long documents, each asked several questions; order shuffled
  aaps,       ///< a short shared instruction preamble + a unique problem of a few hundred tokens
  mixed,      ///< the three above, shuffled together in equal thirds
};

/// "toolbench", "loogle", "aaps" or "mixed"; nullopt for anything else.
std::optional<dataset_kind> parse_dataset_kind(std::string_view name) noexcept;

/// The name parse_dataset_kind accepts.
std::string_view to_string(dataset_kind k) noexcept;

/// Upper bounds generate() accepts; they catch wrapped negative numbers from a command line.
inline constexpr std::size_t max_generated_prompts = 10'000'000;
inline constexpr std::size_t max_generated_groups = 100'000;
inline constexpr std::size_t max_generated_tokens = 1'000'000;

/// Length of `text` in generator units (see generator_config).
std::size_t generator_units(std::string_view text) noexcept;

/// Settings of the generator. A zero size knob means "the kind's default" (listed per field).
/// Lengths are in generator units: the pieces the approximate tokenizer cut before its
/// calibration to Llama 3 (words with one leading space, four bytes a piece), kept so the
/// shipped datasets regenerate byte for byte; about 1.6 units make one Llama 3 token.
struct generator_config {
  /// What to make.
  dataset_kind kind = dataset_kind::toolbench;
  /// How many prompts.
  std::size_t count = 300;
  /// Same seed, same bytes, on every machine.
  std::uint64_t seed = 1;
  /// Shared-prefix groups: tool sets (toolbench, default 32), documents (loogle, default
  /// count / 6, so about six questions each), preambles (aaps, default 1).
  std::size_t groups = 0;
  /// Toolbench: Zipf exponent of tool-set popularity (0 = uniform); the paper uses 1.1.
  double zipf_s = 1.1;
  /// Shortest shared prefix (tool-set prompt 1500, document 3000, preamble 60).
  std::size_t prefix_min_tokens = 0;
  /// Longest shared prefix (tool-set prompt 3000, document 5000, preamble 100).
  std::size_t prefix_max_tokens = 0;
  /// Shortest unique suffix (request 20, question 12, problem 200).
  std::size_t suffix_min_tokens = 0;
  /// Longest unique suffix (request 60, question 30, problem 500).
  std::size_t suffix_max_tokens = 0;
};

/// The prompts. Fails with invalid_argument (why in `diag`) for count 0, a min above its
/// max, a negative or non-finite zipf_s, or a value over the max_generated_* bounds.
/// Lengths are targets: a kind's fixed structure (aaps's input/output sections, about 150
/// tokens) is a floor, and a tool-set prompt may overshoot its target by one tool's docs. Knobs other than count, seed and zipf_s do not
/// apply to mixed (each part uses its kind's defaults); setting them there is an error.
result<std::vector<std::string>> generate(const generator_config& config, diagnostics& diag);

}  // namespace planetserve::workload
