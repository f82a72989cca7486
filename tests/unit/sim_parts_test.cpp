// SPDX-License-Identifier: MIT
// Tests for the emulator's parts: KV block pool, profiles, text generator, fault injector.
#include <planetserve/sim/chat_template.hpp>
#include <planetserve/sim/fault_injection.hpp>
#include <planetserve/sim/kv_cache.hpp>
#include <planetserve/sim/profile.hpp>
#include <planetserve/sim/text_generator.hpp>
#include <planetserve/tokenize/approx_tokenizer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

using namespace planetserve::sim;
using planetserve::tokenize::token_id;

TEST_CASE("sim kv_cache: a pool is built as it is used", "[sim][kv]") {
  // Four billion blocks would take about a hundred gigabytes if the pool were built up
  // front; blocks never handed out take no memory, and the queue's order is vLLM's.
  const std::size_t n = 0xfffffff0U;
  kv_cache c(n, 16, true);
  CHECK(c.num_free_blocks() == n - 1);
  std::vector<block_id> a;
  c.allocate(3, a);
  CHECK(a == std::vector<block_id>{1, 2, 3});
  CHECK(c.num_free_blocks() == n - 4);
  c.cache_block(a[0], 7);
  c.free(a);
  CHECK(c.num_free_blocks() == n - 1);
  CHECK(c.usage() == 0.0);
  // The never-used blocks stay in front of the freed ones.
  std::vector<block_id> b;
  c.allocate(2, b);
  CHECK(b == std::vector<block_id>{4, 5});
  CHECK(c.is_cached(7));
  c.free(b);
  CHECK(c.reset_prefix_cache());
  CHECK_FALSE(c.is_cached(7));
}

TEST_CASE("sim kv_cache: free queue order, eviction and revival", "[sim][kv]") {
  kv_cache c(8, 16, true);
  CHECK(c.free_queue() == std::vector<block_id>{1, 2, 3, 4, 5, 6, 7});
  CHECK(c.usage() == 0.0);  // the null block does not count

  std::vector<block_id> a;
  c.allocate(3, a);
  CHECK(a == std::vector<block_id>{1, 2, 3});
  for (block_id i = 0; i < 3; ++i) c.cache_block(a[i], 100 + i);
  c.free(a);
  // Tail block first, so a prefix's end is evicted before its start.
  CHECK(c.free_queue() == std::vector<block_id>{4, 5, 6, 7, 3, 2, 1});
  CHECK(c.num_cached_blocks() == 3);

  // Revive a's first block from the middle of the queue.
  const std::vector<block_hash> h{100, 101, 102};
  CHECK(c.longest_cache_hit(h, 3) == 3);
  CHECK(c.longest_cache_hit(h, 2) == 2);
  CHECK(c.num_free_among(h, 2) == 2);
  std::vector<block_id> b;
  c.touch(h, 1, b);
  CHECK(b == std::vector<block_id>{1});
  CHECK(c.free_queue() == std::vector<block_id>{4, 5, 6, 7, 3, 2});
  CHECK_FALSE(c.reset_prefix_cache());  // block 1 is in use

  // Allocating 5 takes the 4 never-used blocks, then evicts 3 (a's tail).
  std::vector<block_id> d;
  c.allocate(5, d);
  CHECK(d == std::vector<block_id>{4, 5, 6, 7, 3});
  CHECK_FALSE(c.is_cached(102));
  CHECK(c.is_cached(101));
  CHECK(c.longest_cache_hit(h, 3) == 2);
  CHECK(c.num_free_blocks() == 1);
  CHECK(c.usage() == Approx(6.0 / 7));

  c.free(b);
  c.free(d);
  CHECK(c.reset_prefix_cache());
  CHECK(c.num_cached_blocks() == 0);
  CHECK(c.longest_cache_hit(h, 3) == 0);
}

TEST_CASE("sim kv_cache: chained hashes identify prefixes", "[sim][kv]") {
  std::vector<token_id> x(48), y(48);
  for (token_id i = 0; i < 48; ++i) x[i] = y[i] = i;
  y[20] = 999;  // differs in the second block
  std::vector<block_hash> hx, hy;
  extend_block_hashes(x, 16, hx);
  extend_block_hashes(y, 16, hy);
  REQUIRE(hx.size() == 3);
  CHECK(hx[0] == hy[0]);
  CHECK(hx[1] != hy[1]);
  CHECK(hx[2] != hy[2]);  // same tokens, different parent
  // Only full blocks are hashed; extending is incremental.
  std::vector<block_hash> part;
  extend_block_hashes(std::span<const token_id>(x).first(40), 16, part);
  CHECK(part.size() == 2);
  extend_block_hashes(x, 16, part);
  CHECK(part == hx);
  kv_cache off(4, 16, false);
  std::vector<block_id> blk;
  off.allocate(1, blk);
  off.cache_block(blk[0], hx[0]);
  CHECK(off.longest_cache_hit(hx, 3) == 0);
}

TEST_CASE("sim profiles: vLLM defaults and KV arithmetic", "[sim][profile]") {
  const auto& a100 = default_profile();
  CHECK(a100.name == "llama-3.1-8b-a100-80gb");
  CHECK(a100.kv_bytes_per_token == 131072);
  CHECK(a100.block_size == 16);
  CHECK(a100.max_model_len == 131072);
  CHECK(a100.max_num_seqs == 256);
  CHECK(a100.max_num_batched_tokens == 2048);
  // (79.15 x 0.9 - 14.96 GiB of weights - 1.50 GiB reserve) / 2 MiB blocks (impl/profile.ipp).
  CHECK(a100.num_gpu_blocks == 28047);
  const auto* h100 = find_profile("h100");
  REQUIRE(h100);
  CHECK(h100->max_num_batched_tokens == 8192);
  CHECK(h100->max_num_seqs == 1024);
  const auto* a6000 = find_profile("llama-3.1-8b-a6000-48gb");
  REQUIRE(a6000);
  CHECK(a6000->num_gpu_blocks * a6000->block_size >= a6000->max_model_len);
  CHECK(a6000->num_gpu_blocks < a100.num_gpu_blocks);
  // Faster GPU, cheaper steps.
  CHECK(h100->cost.fixed_s < a100.cost.fixed_s);
  CHECK(a100.cost.fixed_s < a6000->cost.fixed_s);
  CHECK(h100->cost.per_prefill_token_s < a100.cost.per_prefill_token_s);
  const auto* instant = find_profile("instant");
  REQUIRE(instant);
  CHECK(instant->cost.fixed_s == 0.0);
  CHECK(instant->cost.per_prefill_token_s == 0.0);
  CHECK(find_profile("tpu") == nullptr);
  CHECK(builtin_profiles().size() == 6);
  // 10 GiB of KV at 128 KiB per token in blocks of 16: 10 * 2^30 / 2^21 = 5120.
  CHECK(kv_blocks_from_memory(20, 1.0, 8, 2, 131072, 16) == 5120);
  CHECK(kv_blocks_from_memory(10, 0.9, 16, 0, 131072, 16) == 0);
  // NaN and absurd sizes give 0 blocks rather than an undefined cast.
  CHECK(kv_blocks_from_memory(std::nan(""), 0.9, 16, 0, 131072, 16) == 0);
  CHECK(kv_blocks_from_memory(1e30, 1.0, 0, 0, 1, 1) == 0);
}

TEST_CASE("sim text generator: readable, deterministic, round-trips through the tokenizer", "[sim][text]") {
  const text_generator gen;
  CHECK(gen.vocabulary_size() > 150);
  std::vector<token_id> ids;
  for (std::size_t i = 0; i < 200; ++i) ids.push_back(gen.token(42, i));
  std::string text;
  gen.decode(ids, text);
  CHECK(text.size() > 400);
  CHECK(text.find('.') != std::string::npos);
  CHECK(text[0] != ' ');
  // Re-tokenizing the text gives back exactly the ids, so usage counts agree with /tokenize.
  const planetserve::tokenize::approx_tokenizer tok;
  CHECK(tok.encode(text) == ids);
  // Token k depends only on (seed, k).
  CHECK(gen.token(42, 17) == ids[17]);
  std::vector<token_id> other;
  for (std::size_t i = 0; i < 200; ++i) other.push_back(gen.token(43, i));
  CHECK(other != ids);
  CHECK(gen.piece(0xfffffffe).empty());
  std::set<token_id> distinct(ids.begin(), ids.end());
  CHECK(distinct.size() > 40);
}

TEST_CASE("sim faults: seeded decisions at the configured rates", "[sim][faults]") {
  fault_config cfg;
  cfg.error_rate = 0.2;
  cfg.error_statuses = {500, 503};
  cfg.close_rate = 0.1;
  cfg.close_after_chunks = 3;
  cfg.unhealthy_for = std::chrono::seconds(2);
  cfg.added_delay = std::chrono::milliseconds(5);
  cfg.delay_jitter = std::chrono::milliseconds(10);
  cfg.seed = 1;
  const fault_injector f(cfg);
  CHECK(f.enabled());
  CHECK_FALSE(fault_injector().enabled());
  CHECK_FALSE(fault_injector().decide(0).error_status.has_value());
  std::size_t errors = 0, closes = 0, s500 = 0;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    const auto d = f.decide(i);
    const auto again = f.decide(i);
    REQUIRE(d.error_status == again.error_status);
    REQUIRE(d.delay == again.delay);
    if (d.error_status) {
      ++errors;
      CHECK((*d.error_status == 500 || *d.error_status == 503));
      if (*d.error_status == 500) ++s500;
    }
    if (d.close_after_chunks) {
      ++closes;
      CHECK(*d.close_after_chunks == 3);
    }
    CHECK(d.delay >= std::chrono::milliseconds(5));
    CHECK(d.delay <= std::chrono::milliseconds(15));
  }
  CHECK(errors > 1800);
  CHECK(errors < 2200);
  CHECK(s500 > errors / 3);
  CHECK(s500 < 2 * errors / 3);
  CHECK(closes > 850);
  CHECK(closes < 1150);
  CHECK_FALSE(f.healthy(std::chrono::seconds(1)));
  CHECK(f.healthy(std::chrono::seconds(2)));
  fault_config bad;
  bad.error_rate = 1.5;
  CHECK_THROWS_AS(fault_injector(bad), std::invalid_argument);
}

TEST_CASE("sim chat template: Llama 3.1's text, exactly", "[sim][chat]") {
  const std::string want =
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
      "Today Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there"
      "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  // The template trims each message's content.
  std::pair<std::size_t, std::size_t> last{0, 0};
  const auto text = render_llama3_chat({{"system", " Be brief.\n"}, {"user", "\tHi there  "}}, true, &last);
  CHECK(text == want);
  CHECK(text.substr(last.first, last.second) == "Hi there");
  CHECK(render_llama3_chat({{"user", "x"}}, false) ==
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
        "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>");
}

TEST_CASE("sim chat template: Llama 3.1 layout, prefix-stable across turns", "[sim][chat]") {
  const auto tok_ptr = default_prompt_tokenizer();
  const auto& tok = *tok_ptr;
  std::vector<planetserve::workload::chat_message> conv{{"system", "You are terse."}, {"user", "Name a prime."}};
  const auto t1 = llama3_chat_prompt(conv, tok);
  REQUIRE(t1.size() > 10);
  CHECK(t1.front() == llama3_special_tokens::begin_of_text);
  CHECK(t1[1] == llama3_special_tokens::start_header_id);
  CHECK(std::count(t1.begin(), t1.end(), llama3_special_tokens::eot_id) == 2);
  CHECK(std::count(t1.begin(), t1.end(), llama3_special_tokens::start_header_id) == 3);
  // The next turn's prompt starts with this turn's, minus the open assistant header.
  const auto closed = llama3_chat_prompt(conv, tok, false);
  conv.push_back({"assistant", "Seven."});
  conv.push_back({"user", "Another?"});
  const auto t2 = llama3_chat_prompt(conv, tok);
  REQUIRE(t2.size() > closed.size());
  CHECK(std::equal(closed.begin(), closed.end(), t2.begin()));
  // Without a system message the template still opens with its system header.
  const auto no_sys = llama3_chat_prompt({{"user", "Name a prime."}}, tok);
  CHECK(no_sys[1] == llama3_special_tokens::start_header_id);
  CHECK(no_sys.size() < t1.size());
}
