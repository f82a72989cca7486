// SPDX-License-Identifier: MIT
// Tests for the dataset generators: structure per kind, determinism, the shipped files.
#include <planetserve/workload/dataset.hpp>
#include <planetserve/workload/generator.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>

namespace ws = planetserve::workload;

namespace {

std::vector<std::string> gen(ws::generator_config c) {
  planetserve::diagnostics diag;
  auto r = ws::generate(c, diag);
  INFO(diag.message);
  REQUIRE(r.has_value());
  return std::move(*r);
}

std::string before(const std::string& s, std::string_view marker) {
  const auto pos = s.find(marker);
  REQUIRE(pos != std::string::npos);
  return s.substr(0, pos);
}

std::size_t tokens(std::string_view s) { return ws::generator_units(s); }

/// Printable ASCII and newlines only, and mostly lower-case letters and spaces: text, not noise.
void check_reads_like_text(const std::string& s) {
  std::size_t letters = 0;
  for (unsigned char c : s) {
    REQUIRE(((c >= 0x20 && c < 0x7F) || c == '\n'));
    letters += (c >= 'a' && c <= 'z') || c == ' ';
  }
  CHECK(static_cast<double>(letters) / static_cast<double>(s.size()) > 0.8);
}

}  // namespace

TEST_CASE("workload generator: toolbench = Zipf-popular long tool-set prompt + short unique request", "[workload][gen]") {
  ws::generator_config c;
  c.kind = ws::dataset_kind::toolbench;
  c.count = 400;
  c.groups = 10;
  c.prefix_min_tokens = 800;
  c.prefix_max_tokens = 1200;
  const auto prompts = gen(c);
  REQUIRE(prompts.size() == 400);
  std::map<std::string, int> systems;
  std::set<std::string> unique(prompts.begin(), prompts.end());
  CHECK(unique.size() == prompts.size());
  for (const auto& p : prompts) {
    const auto sys = before(p, "\nUser request");
    ++systems[sys];
    const auto n = tokens(sys);
    CHECK(n >= 800);
    CHECK(n <= 1200 + 200);  // within about half a tool's documentation of the target
    CHECK(tokens(p) - n < 150);
  }
  CHECK(systems.size() <= 10);
  CHECK(systems.size() >= 8);
  std::vector<int> counts;
  for (auto& kv : systems) counts.push_back(kv.second);
  std::sort(counts.rbegin(), counts.rend());
  // Zipf 1.1 over 10 sets: the top set draws about 34%, the tenth about 2.7%.
  CHECK(counts.front() > 90);
  CHECK(counts.front() > 5 * counts.back());
  check_reads_like_text(prompts.front());
}

TEST_CASE("workload generator: toolbench with zipf 0 is roughly uniform", "[workload][gen]") {
  ws::generator_config c;
  c.count = 600;
  c.groups = 4;
  c.zipf_s = 0;
  c.prefix_min_tokens = 100;
  c.prefix_max_tokens = 200;
  std::map<std::string, int> systems;
  for (const auto& p : gen(c)) ++systems[before(p, "\nUser request")];
  REQUIRE(systems.size() == 4);
  for (auto& kv : systems) CHECK(kv.second == Approx(150).epsilon(0.25));
}

TEST_CASE("workload generator: loogle asks each document several different questions, shuffled", "[workload][gen]") {
  ws::generator_config c;
  c.kind = ws::dataset_kind::loogle;
  c.count = 60;
  c.groups = 10;
  c.prefix_min_tokens = 1000;
  c.prefix_max_tokens = 1500;
  const auto prompts = gen(c);
  REQUIRE(prompts.size() == 60);
  std::map<std::string, std::set<std::string>> questions;
  std::vector<std::string> order;
  for (const auto& p : prompts) {
    const auto doc = before(p, "\nQuestion: ");
    CHECK(tokens(doc) >= 1000);
    questions[doc].insert(p.substr(doc.size()));
    order.push_back(doc);
  }
  REQUIRE(questions.size() == 10);
  for (auto& kv : questions) CHECK(kv.second.size() == 6);  // six distinct questions each
  // Shuffled: the same document does not simply come six times in a row.
  std::size_t same_as_previous = 0;
  for (std::size_t i = 1; i < order.size(); ++i) same_as_previous += order[i] == order[i - 1];
  CHECK(same_as_previous < 20);
  check_reads_like_text(prompts.front());
}

TEST_CASE("workload generator: aaps shares only a short preamble", "[workload][gen]") {
  ws::generator_config c;
  c.kind = ws::dataset_kind::aaps;
  c.count = 50;
  const auto prompts = gen(c);
  std::set<std::string> preambles;
  for (const auto& p : prompts) {
    const auto pre = before(p, "\nQUESTION:\n");
    preambles.insert(pre);
    CHECK(tokens(pre) >= 60);
    CHECK(tokens(pre) <= 130);
    const auto problem = tokens(p) - tokens(pre);
    CHECK(problem >= 200);
    CHECK(problem <= 600);
  }
  CHECK(preambles.size() == 1);
  CHECK(std::set<std::string>(prompts.begin(), prompts.end()).size() == 50);
  check_reads_like_text(prompts.front());
}

TEST_CASE("workload generator: mixed holds all three kinds in equal thirds", "[workload][gen]") {
  ws::generator_config c;
  c.kind = ws::dataset_kind::mixed;
  c.count = 31;
  const auto prompts = gen(c);
  REQUIRE(prompts.size() == 31);
  int tool = 0, doc = 0, code = 0;
  for (const auto& p : prompts) {
    tool += p.find("\nUser request") != std::string::npos;
    doc += p.find("\nQuestion: ") != std::string::npos;
    code += p.find("\nQUESTION:\n") != std::string::npos;
  }
  CHECK(tool == 11);
  CHECK(doc == 10);
  CHECK(code == 10);
  // Interleaved, not three blocks: the kind changes many times along the file.
  auto kind_of = [](const std::string& p) { return p.find("\nUser request") != std::string::npos ? 0 : p.find("\nQuestion: ") != std::string::npos ? 1 : 2; };
  int changes = 0;
  for (std::size_t i = 1; i < prompts.size(); ++i) changes += kind_of(prompts[i]) != kind_of(prompts[i - 1]);
  CHECK(changes > 8);
}

TEST_CASE("workload generator: same seed same output, other seed other output", "[workload][gen]") {
  for (auto k : {ws::dataset_kind::toolbench, ws::dataset_kind::loogle, ws::dataset_kind::aaps, ws::dataset_kind::mixed}) {
    ws::generator_config c;
    c.kind = k;
    c.count = 12;
    c.seed = 5;
    const auto a = gen(c);
    CHECK(gen(c) == a);
    c.seed = 6;
    CHECK(gen(c) != a);
  }
}

TEST_CASE("workload generator: bad settings are invalid_argument with a reason", "[workload][gen]") {
  auto fails = [](ws::generator_config c, std::string_view why) {
    planetserve::diagnostics diag;
    auto r = ws::generate(c, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == make_error_code(planetserve::error::invalid_argument));
    CHECK_THAT(diag.message, Catch::Contains(std::string(why)));
  };
  ws::generator_config c;
  c.count = 0;
  fails(c, "count");
  c.count = static_cast<std::size_t>(-5);  // what "--count -5" becomes
  fails(c, "at most");
  c = {};
  c.groups = static_cast<std::size_t>(-1);
  fails(c, "groups");
  c = {};
  c.zipf_s = -1;
  fails(c, "Zipf");
  c = {};
  c.prefix_min_tokens = 500;
  c.prefix_max_tokens = 100;
  fails(c, "prefix");
  c = {};
  c.prefix_min_tokens = 5000;  // above toolbench's default max of 3000
  fails(c, "prefix range");
  c = {};
  c.kind = ws::dataset_kind::mixed;
  c.groups = 3;
  fails(c, "mixed");
}

TEST_CASE("workload generator: kind names parse and print", "[workload][gen]") {
  for (auto k : {ws::dataset_kind::toolbench, ws::dataset_kind::loogle, ws::dataset_kind::aaps, ws::dataset_kind::mixed})
    CHECK(ws::parse_dataset_kind(ws::to_string(k)) == k);
  CHECK_FALSE(ws::parse_dataset_kind("apps").has_value());
}

TEST_CASE("workload generator: regenerating the shipped datasets reproduces them byte for byte", "[workload][gen]") {
  // Must match the commands in datasets/README.md.
  struct shipped {
    const char* file;
    ws::dataset_kind kind;
    std::size_t count;
  };
  const shipped files[] = {{"toolbench.jsonl", ws::dataset_kind::toolbench, 250},
                           {"loogle.jsonl", ws::dataset_kind::loogle, 130},
                           {"aaps.jsonl", ws::dataset_kind::aaps, 300},
                           {"mixed.jsonl", ws::dataset_kind::mixed, 240}};
  for (const auto& f : files) {
    INFO(f.file);
    const std::string path = std::string(PLANETSERVE_SOURCE_DIR) + "/datasets/" + f.file;
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    const std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(on_disk.size() <= 2'000'000);
    ws::generator_config c;
    c.kind = f.kind;
    c.count = f.count;
    c.seed = 1;
    const std::string regenerated = ws::to_jsonl(gen(c), "workload");
    CHECK(regenerated.size() == on_disk.size());
    CHECK(regenerated == on_disk);  // a mismatch means the generator changed: regenerate and say so
  }
}
