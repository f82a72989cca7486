// SPDX-License-Identifier: MIT
// Tests for dataset_stats: lengths, percentiles, and the prefix-reuse ceiling against brute force.
#include <planetserve/tokenize/approx_tokenizer.hpp>
#include <planetserve/workload/dataset_stats.hpp>
#include <planetserve/workload/generator.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

namespace ws = planetserve::workload;
using planetserve::tokenize::approx_tokenizer;

TEST_CASE("workload stats: lengths and nearest-rank percentiles", "[workload][stats]") {
  approx_tokenizer tok;
  ws::dataset_stats_builder b(tok);
  // Distinct single-letter words: each " x" is one token, and no two prompts share a first token.
  const std::string letters = "abcdefghij";
  for (std::size_t n = 1; n <= 10; ++n) {
    std::string p(1, letters[n - 1]);
    for (std::size_t i = 1; i < n; ++i) p += " z";
    CHECK(b.add(p) == 0);
  }
  const auto s = b.finish();
  CHECK(s.prompts == 10);
  CHECK(s.total_tokens == 55);
  CHECK(s.min_tokens == 1);
  CHECK(s.max_tokens == 10);
  CHECK(s.p50_tokens == 5);
  CHECK(s.p90_tokens == 9);
  CHECK(s.mean_tokens == Approx(5.5));
  CHECK(s.reused_tokens == 0);
  CHECK(s.reuse_ratio() == 0.0);
}

TEST_CASE("workload stats: reuse is the longest common token prefix with any earlier prompt", "[workload][stats]") {
  approx_tokenizer tok;
  ws::dataset_stats_builder b(tok, 2);
  // Words of at most three letters: each is exactly one token.
  CHECK(b.add("one two red big") == 0);
  CHECK(b.add("one two red cat") == 3);
  CHECK(b.add("one two sun") == 2);
  CHECK(b.add("one two red cat") == 4);  // an exact repeat is fully reused
  CHECK(b.add("two one") == 0);
  const auto s = b.finish();
  CHECK(s.reused_tokens == 9);
  CHECK(s.reused_block_tokens == 2 + 2 + 4);  // 3 -> 2, 2 -> 2, 4 -> 4 in blocks of 2
  CHECK(s.total_tokens == 4 + 4 + 3 + 4 + 2);
  CHECK(s.reuse_ratio() == Approx(9.0 / 17.0));
}

TEST_CASE("workload stats: matches a brute-force longest-common-prefix on a generated dataset", "[workload][stats]") {
  ws::generator_config c;
  c.kind = ws::dataset_kind::mixed;
  c.count = 60;
  c.seed = 11;
  planetserve::diagnostics diag;
  const auto prompts = ws::generate(c, diag);
  REQUIRE(prompts.has_value());
  approx_tokenizer tok;
  ws::dataset_stats_builder b(tok);
  std::vector<std::vector<planetserve::tokenize::token_id>> seen;
  std::size_t expected = 0;
  for (const auto& p : *prompts) {
    auto ids = tok.encode(p);
    std::size_t best = 0;
    for (const auto& q : seen) {
      const auto mm = std::mismatch(ids.begin(), ids.end(), q.begin(), q.end());
      best = std::max(best, static_cast<std::size_t>(mm.first - ids.begin()));
    }
    CHECK(b.add(p) == best);
    expected += best;
    seen.push_back(std::move(ids));
  }
  const auto s = b.finish();
  CHECK(s.reused_tokens == expected);
  CHECK(s.reuse_ratio() > 0.3);  // the toolbench and loogle thirds share long prefixes
}

TEST_CASE("workload stats: compute_stats over a dataset, and an empty builder", "[workload][stats]") {
  approx_tokenizer tok;
  ws::dataset d;
  d.prompts.push_back({"shared prefix and more", {}, 1});
  d.prompts.push_back({"shared prefix and less", {}, 2});
  const auto s = ws::compute_stats(d, tok);
  CHECK(s.prompts == 2);
  CHECK(s.reused_tokens == tok.encode("shared prefix and").size());
  const auto empty = ws::dataset_stats_builder(tok).finish();
  CHECK(empty.prompts == 0);
  CHECK(empty.reuse_ratio() == 0.0);
}
