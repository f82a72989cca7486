// SPDX-License-Identifier: MIT
// Shared helpers for the reliability_* tests: temp folders, small datasets, one whole runner pass.
#pragma once

#include <planetserve/experiment/runner.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace reliability_test {

namespace asio = boost::asio;
namespace fs = std::filesystem;

/// A fresh folder under the system temp dir, removed with everything in it at the end.
struct temp_dir {
  fs::path path;
  explicit temp_dir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("pswm_reliab_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

/// `n` prompts in the seed's format, in a few families sharing long prefixes.
inline fs::path write_dataset(const fs::path& dir, std::size_t n, const std::string& name = "tiny") {
  const fs::path file = dir / (name + ".jsonl");
  std::ofstream out(file);
  for (std::size_t i = 0; i < n; ++i) {
    out << "{\"workload\": \"System: you are assistant number " << i % 4
        << ". Answer briefly and politely, citing sources where you can. Question " << i
        << ": what is the capital of country " << i * 7 % 13 << "?\"}\n";
  }
  return file;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

inline std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + needle.size())) ++n;
  return n;
}

/// Folders directly under `root` whose names start with `prefix`.
inline std::vector<fs::path> dirs_starting(const fs::path& root, const std::string& prefix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path());
  return out;
}

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

/// Settings every pipeline test starts from: quick, quiet, loopback, no gnuplot.
inline planetserve::experiment::run_config quick_config(const fs::path& dataset, const fs::path& out_dir) {
  planetserve::experiment::run_config cfg;
  cfg.dataset_file = dataset;
  cfg.output_dir = out_dir;
  cfg.average_interval_s = 0.01;
  cfg.arrival = planetserve::workload::arrival_process::constant;
  cfg.max_new_tokens = 8;
  // The fake servers here answer /v1/completions, and tests count exact output tokens: not
  // the seed's defaults (chat, no ignore_eos), which the CLI tests exercise.
  cfg.api = planetserve::experiment::api_kind::completions;
  cfg.ignore_eos = true;
  cfg.policies = {"rr"};
  cfg.metrics_interval = std::chrono::duration<double>(0.05);
  cfg.health_interval = std::chrono::duration<double>(0.05);
  cfg.request_timeout = std::chrono::duration<double>(5);
  cfg.drain_timeout = std::chrono::duration<double>(5);
  cfg.progress = false;
  cfg.render_figures = false;
  return cfg;
}

/// What one prepare + preflight + run gave.
struct pass_result {
  boost::system::error_code prepare, preflight, run;
  std::string diag;
  bool finished = false;
};

/// prepare(), async_preflight(), async_run() in turn, stopping at the first failure.
inline asio::awaitable<void> full_pass(planetserve::experiment::runner& r, pass_result& out) {
  planetserve::diagnostics diag;
  out.prepare = r.prepare(diag);
  if (!out.prepare) out.preflight = co_await r.async_preflight(diag);
  if (!out.prepare && !out.preflight) out.run = co_await r.async_run(diag);
  out.diag = diag.message;
  out.finished = true;
}

/// Resident set size in bytes, from /proc/self/statm.
inline std::size_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0;
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace reliability_test
