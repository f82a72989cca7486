// SPDX-License-Identifier: MIT
// Tests for output folder naming, moving earlier results aside, and atomic writes.
#include <planetserve/detail/python_float.hpp>
#include <planetserve/experiment/atomic_file.hpp>
#include <planetserve/experiment/output_layout.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>

namespace fs = std::filesystem;
namespace ex = planetserve::experiment;

namespace {
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("pswm-test-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
};
std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("experiment: python_float matches Python's repr", "[experiment][output]") {
  using planetserve::detail::python_float;
  CHECK(python_float(0.5) == "0.5");
  CHECK(python_float(0.05) == "0.05");
  CHECK(python_float(1) == "1.0");
  CHECK(python_float(0) == "0.0");
  CHECK(python_float(-2.25) == "-2.25");
  CHECK(python_float(0.1 + 0.2) == "0.30000000000000004");
  CHECK(python_float(1e-5) == "1e-05");
  CHECK(python_float(0.0001) == "0.0001");
  CHECK(python_float(1.5e16) == "1.5e+16");
  CHECK(python_float(1e15) == "1000000000000000.0");
  CHECK(python_float(123456.789) == "123456.789");
  CHECK(python_float(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(python_float(std::nan("")) == "nan");
}

TEST_CASE("experiment: output folders use the seed's names", "[experiment][output]") {
  CHECK(ex::dataset_label("datasets/mixed.jsonl") == "mixed");
  CHECK(ex::dataset_label("/a/b/toolbench") == "toolbench");
  CHECK(ex::interval_label(0.5) == "0.5");
  CHECK(ex::interval_label(2) == "2.0");
  auto single = ex::make_output_layout("out", "mixed", 0.5);
  CHECK(single.log_dir == fs::path("out/log_mixed_0.5"));
  CHECK(single.fig_dir == fs::path("out/fig_mixed_0.5"));
  auto per_policy = ex::make_output_layout("", "loogle", 0.05, "lb");
  CHECK(per_policy.log_dir == fs::path("log_loogle_0.05_lb"));
  CHECK(per_policy.fig_dir == fs::path("fig_loogle_0.05_lb"));
}

TEST_CASE("experiment: move_aside keeps every earlier run", "[experiment][output]") {
  temp_dir tmp;
  planetserve::diagnostics diag;
  const auto dir = tmp.path / "log_mixed_0.5";

  auto none = ex::move_aside(dir, diag);
  REQUIRE(none.has_value());
  CHECK(!none->has_value());

  std::vector<fs::path> moved;
  for (int run = 0; run < 3; ++run) {
    fs::create_directories(dir);
    std::ofstream(dir / "summary.json") << "run " << run;
    auto r = ex::move_aside(dir, diag);
    REQUIRE(r.has_value());
    REQUIRE(r->has_value());
    moved.push_back(**r);
    CHECK(!fs::exists(dir));
  }
  // Three runs in the same second still give three distinct folders, contents intact.
  for (int run = 0; run < 3; ++run) {
    CHECK(slurp(moved[run] / "summary.json") == "run " + std::to_string(run));
    CHECK(moved[run].filename().string().rfind("log_mixed_0.5.", 0) == 0);
  }
}

TEST_CASE("experiment: write_file_atomic replaces whole files and names failures", "[experiment][output]") {
  temp_dir tmp;
  planetserve::diagnostics diag;
  const auto file = tmp.path / "summary.json";
  REQUIRE(!ex::write_file_atomic(file, "first", diag));
  REQUIRE(!ex::write_file_atomic(file, "second, longer", diag));
  CHECK(slurp(file) == "second, longer");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path)) ++entries;
  CHECK(entries == 1);  // no temporary left behind

  auto ec = ex::write_file_atomic(tmp.path / "missing-folder" / "x.json", "data", diag);
  CHECK(ec == planetserve::error::file_unwritable);
  CHECK(diag.message.find("missing-folder") != std::string::npos);
}

TEST_CASE("experiment: line_log appends and flushes each line", "[experiment][output]") {
  temp_dir tmp;
  planetserve::diagnostics diag;
  const auto file = tmp.path / "requests.jsonl";
  {
    ex::line_log log;
    REQUIRE(!log.open(file, diag));
    REQUIRE(!log.append(R"({"id":1})", diag));
    // Visible to a reader before the log is closed: a crash now loses nothing.
    CHECK(slurp(file) == "{\"id\":1}\n");
    REQUIRE(!log.append(R"({"id":2})", diag));
  }
  ex::line_log again;
  REQUIRE(!again.open(file, diag));
  REQUIRE(!again.append(R"({"id":3})", diag));
  again.close();
  CHECK(slurp(file) == "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");
  ex::line_log closed;
  CHECK(closed.append("x", diag) == planetserve::error::file_unwritable);
}

TEST_CASE("experiment: ensure_writable_dir creates folders and reports unwritable ones", "[experiment][output]") {
  temp_dir tmp;
  planetserve::diagnostics diag;
  CHECK(!ex::ensure_writable_dir(tmp.path / "a" / "b", diag));
  CHECK(fs::is_directory(tmp.path / "a" / "b"));
  auto file = tmp.path / "plain-file";
  std::ofstream(file) << "x";
  CHECK(ex::ensure_writable_dir(file / "sub", diag) == planetserve::error::file_unwritable);
  CHECK(diag.message.find("plain-file") != std::string::npos);
}
