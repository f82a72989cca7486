// SPDX-License-Identifier: MIT
// Where a run's outputs go: the seed's log_<dataset>_<interval>/ and fig_.../ names, kept safe.
#pragma once

#include <planetserve/error.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace planetserve::experiment {

/// The folders one policy's run writes into.
struct output_layout {
  std::filesystem::path log_dir;  ///< log_<dataset>_<interval>[_<policy>]/
  std::filesystem::path fig_dir;  ///< fig_<dataset>_<interval>[_<policy>]/
};

/// The dataset's name as the seed uses it: the file name without its extension.
std::string dataset_label(const std::filesystem::path& dataset_file);

/// The interval as the seed writes it (Python's str(float)): 0.5 -> "0.5", 1 -> "1.0".
std::string interval_label(double average_interval_s);

/// log_/fig_ folders under `root`; `policy` empty for a single-policy run (the seed's names).
output_layout make_output_layout(const std::filesystem::path& root, std::string_view dataset,
                                 double average_interval_s, std::string_view policy = {});

/// When `dir` exists, renames it to `<dir>.<YYYYmmdd-HHMMSS>` (plus `-N` if that exists too)
/// and returns the new name, so earlier results are never overwritten; nullopt when `dir`
/// did not exist. Fails (file_unwritable, with diagnostics) when the rename fails.
result<std::optional<std::filesystem::path>> move_aside(const std::filesystem::path& dir,
                                                        diagnostics& diag);

/// Creates `dir` (and parents) and checks a file can be written in it.
boost::system::error_code ensure_writable_dir(const std::filesystem::path& dir,
                                              diagnostics& diag);

}  // namespace planetserve::experiment
