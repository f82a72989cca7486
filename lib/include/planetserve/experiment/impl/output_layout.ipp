// SPDX-License-Identifier: MIT
// Compiled body of the output layout helpers.
#pragma once

#include <planetserve/detail/python_float.hpp>
#include <planetserve/experiment/output_layout.hpp>

#include <chrono>
#include <ctime>
#include <fstream>

namespace planetserve::experiment {

std::string dataset_label(const std::filesystem::path& dataset_file) {
  return dataset_file.stem().string();
}

std::string interval_label(double average_interval_s) {
  return detail::python_float(average_interval_s);
}

output_layout make_output_layout(const std::filesystem::path& root, std::string_view dataset,
                                 double average_interval_s, std::string_view policy) {
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on chained operator+ here.
  std::string suffix(dataset);
  suffix += '_';
  suffix += interval_label(average_interval_s);
  if (!policy.empty()) {
    suffix += '_';
    suffix += policy;
  }
  return {root / ("log_" + suffix), root / ("fig_" + suffix)};
}

result<std::optional<std::filesystem::path>> move_aside(const std::filesystem::path& dir,
                                                        diagnostics& diag) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return std::optional<std::filesystem::path>{};
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::filesystem::path target = dir.string() + "." + stamp;
  for (int n = 2; std::filesystem::exists(target, ec); ++n)
    target = dir.string() + "." + stamp + "-" + std::to_string(n);
  std::filesystem::rename(dir, target, ec);
  if (ec) {
    diag.message = "cannot move earlier results " + dir.string() + " aside to " +
                   target.string() + ": " + ec.message() +
                   " (move or rename it yourself, or choose another --output-dir)";
    return make_error_code(error::file_unwritable);
  }
  return std::optional<std::filesystem::path>{target};
}

boost::system::error_code ensure_writable_dir(const std::filesystem::path& dir,
                                              diagnostics& diag) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    diag.message = "cannot create folder " + dir.string() + ": " + ec.message();
    return error::file_unwritable;
  }
  const auto probe = dir / ".pswm-write-check";
  {
    std::ofstream f(probe);
    f << "ok";
    if (!f.good()) {
      diag.message = "cannot write in folder " + dir.string() +
                     " (check permissions and free space, or choose another --output-dir)";
      return error::file_unwritable;
    }
  }
  std::filesystem::remove(probe, ec);
  return {};
}

}  // namespace planetserve::experiment
