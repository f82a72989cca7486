// SPDX-License-Identifier: MIT
// pswm gen: write a synthetic workload (toolbench, loogle, aaps, mixed, multiturn) or describe one (--stats).
#include "cli.hpp"
#include "commands.hpp"

#include <planetserve/tokenize/approx_tokenizer.hpp>
#include <planetserve/workload/dataset.hpp>
#include <planetserve/workload/dataset_stats.hpp>
#include <planetserve/workload/generator.hpp>
#include <planetserve/workload/session.hpp>
#include <planetserve/workload/session_generator.hpp>
#include <planetserve/workload/trace.hpp>
#include <planetserve/workload/trace_generator.hpp>
#include <planetserve/workload/workload_stats.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

namespace pswm {
namespace {

namespace ws = planetserve::workload;

/// "A" or "A-B" tokens -> [min, max].
void parse_range(const std::string& flag, const std::string& text, std::size_t& lo, std::size_t& hi) {
  auto number = [&](const std::string& s) -> std::size_t {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
      throw cli::usage_error(flag + ": '" + text + "' is not a token count or a range like 1500-3000");
    // stoull would throw past 2^64; a prompt of a billion tokens or more is no prompt either.
    if (s.size() > 9) throw cli::usage_error(flag + ": '" + s + "' tokens is too many (at most 999999999)");
    const auto v = std::stoull(s);
    if (v == 0) throw cli::usage_error(flag + ": lengths must be at least 1 token");
    return static_cast<std::size_t>(v);
  };
  const auto dash = text.find('-');
  if (dash == std::string::npos) {
    lo = hi = number(text);
  } else {
    lo = number(text.substr(0, dash));
    hi = number(text.substr(dash + 1));
  }
  if (lo > hi) throw cli::usage_error(flag + ": the range " + text + " is empty; write it as MIN-MAX");
}

/// What a --stats file holds, told from its first non-blank line's keys.
enum class file_shape { prompts, sessions, trace };

file_shape peek_shape(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    // Cheap on purpose: the real reader reports what is wrong with the line.
    if (ws::looks_like_trace_line(line)) return file_shape::trace;
    if (line.find("\"conversations\"") != std::string::npos || line.find("\"messages\"") != std::string::npos)
      return file_shape::sessions;
    return file_shape::prompts;
  }
  return file_shape::prompts;
}

/// Options of --stats beyond the reader's.
struct stats_options {
  ws::reuse_config reuse;  ///< nodes and cache size for the per-node figures
  bool json = false;       ///< one JSON object instead of text
};

void put_lengths(boost::json::object& o, const char* name, const ws::length_stats& l) {
  const std::string n(name);
  o[n + "_mean"] = l.mean;
  o[n + "_p50"] = l.p50;
  o[n + "_p90"] = l.p90;
  o[n + "_max"] = l.max;
}

std::string lengths_line(const ws::length_stats& l) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << "mean " << l.mean << ", p50 " << l.p50 << ", p90 " << l.p90
      << ", max " << l.max;
  return out.str();
}

/// The shared part of the --stats report: requests, lengths, rate and the reuse ceilings.
void print_workload(const std::string& file, std::string_view shape, const ws::workload_stats& w,
                    const stats_options& o, std::size_t skipped, const std::vector<std::string>& reasons) {
  if (o.json) {
    boost::json::object j;
    j["file"] = file;
    j["format"] = shape;
    j["requests"] = w.requests;
    j["sessions"] = w.sessions;
    put_lengths(j, "input_tokens", w.input);
    put_lengths(j, "output_tokens", w.output);
    j["span_s"] = w.span_s;
    j["offered_rate"] = w.offered_rate;
    j["block_tokens"] = o.reuse.block_tokens;
    j["reuse_ceiling"] = w.reuse.shared_ratio();
    j["nodes"] = o.reuse.nodes;
    j["cache_blocks"] = o.reuse.cache_blocks;
    if (o.reuse.cache_blocks) {
      j["reuse_rr"] = w.reuse.rr_ratio();
      j["reuse_affinity"] = w.reuse.affinity_ratio();
    }
    j["skipped"] = skipped;
    std::cout << boost::json::serialize(j) << "\n";
    return;
  }
  std::ostringstream out;
  out << std::fixed << std::setprecision(1);
  out << "file:            " << file << " (" << shape << ")\n";
  out << "requests:        " << w.requests;
  if (w.sessions) out << " turns in " << w.sessions << " sessions";
  if (skipped) out << " (" << skipped << " bad lines skipped)";
  out << "\n";
  const bool trace = shape == "mooncake trace";
  out << "input tokens:    " << lengths_line(w.input) << (trace ? " (the trace's input_length" : " (approx tokenizer");
  if (w.sessions) out << "; a turn's whole prompt, history included";
  out << ")\n";
  out << "output tokens:   " << lengths_line(w.output) << "\n";
  if (w.span_s > 0)
    out << "span:            " << w.span_s << " s, offered rate " << std::setprecision(2) << w.offered_rate
        << " requests/s\n" << std::setprecision(1);
  out << "reuse ceiling:   " << 100.0 * w.reuse.shared_ratio() << "% of input tokens hit an infinite shared cache ("
      << o.reuse.block_tokens << "-token blocks, in order)\n";
  if (o.reuse.cache_blocks)
    out << "per-node cache:  " << o.reuse.cache_blocks << " blocks of " << o.reuse.block_tokens << " tokens x "
        << o.reuse.nodes << " nodes (LRU): round-robin "
        << 100.0 * w.reuse.rr_ratio() << "%, perfect " << (w.sessions ? "session" : "first-block") << " affinity "
        << 100.0 * w.reuse.affinity_ratio() << "%\n";
  for (const auto& r : reasons) out << "skipped:         " << r << "\n";
  std::cout << out.str();
}

int print_session_stats(const std::string& file, const ws::dataset_config& config, const stats_options& o) {
  planetserve::diagnostics diag;
  auto d = ws::read_sessions(file, config, diag);
  if (!d) {
    std::cerr << "pswm gen: " << diag.message << "\n";
    return cli::exit_failure;
  }
  planetserve::tokenize::approx_tokenizer tok;
  const auto w = ws::session_workload_stats(*d, tok, o.reuse);
  print_workload(file, "sessions", w, o, d->skipped, d->skip_reasons);
  return cli::exit_ok;
}

int print_trace_stats(const std::string& file, const ws::dataset_config& config, stats_options o) {
  ws::trace_config tc;
  tc.block_tokens = config.trace_block_tokens;
  tc.skip_bad_lines = config.skip_bad_lines;
  tc.max_line_bytes = config.max_line_bytes;
  planetserve::diagnostics diag;
  auto t = ws::read_trace(file, tc, diag);
  if (!t) {
    std::cerr << "pswm gen: " << diag.message << "\n";
    return cli::exit_failure;
  }
  // --cache-blocks counts 16-token KV blocks; the trace's blocks are bigger.
  o.reuse.cache_blocks = o.reuse.cache_blocks * 16 / tc.block_tokens;
  o.reuse.block_tokens = tc.block_tokens;
  const auto w = ws::trace_workload_stats(*t, o.reuse);
  print_workload(file, "mooncake trace", w, o, t->skipped, t->skip_reasons);
  return cli::exit_ok;
}

int print_stats(const std::string& file, const ws::dataset_config& config, const stats_options& o) {
  planetserve::diagnostics diag;
  auto d = ws::read_dataset(file, config, diag);
  if (!d) {
    std::cerr << "pswm gen: " << diag.message << "\n";
    return cli::exit_failure;
  }
  planetserve::tokenize::approx_tokenizer tok;
  const auto w = ws::prompt_workload_stats(*d, tok, o.reuse);
  if (o.json) {
    print_workload(file, "prompts", w, o, d->skipped, d->skip_reasons);
    return cli::exit_ok;
  }
  const auto s = ws::compute_stats(*d, tok);
  std::ostringstream out;
  out << std::fixed << std::setprecision(1);
  out << "file:            " << file << "\n";
  out << "prompts:         " << s.prompts << " (field \"" << d->field << "\"";
  if (config.skip_bad_lines) out << ", " << d->skipped << " bad lines skipped";
  out << ")\n";
  out << "tokens (approx): total " << s.total_tokens << "; min " << s.min_tokens << ", p50 " << s.p50_tokens
      << ", p90 " << s.p90_tokens << ", max " << s.max_tokens << ", mean " << s.mean_tokens << "\n";
  out << "prefix reuse:    " << 100.0 * s.reuse_ratio() << "% of prompt tokens were already seen as a prefix of an "
      << "earlier prompt\n"
      << "                 (" << 100.0 * s.block_reuse_ratio() << "% in whole " << s.block_size
      << "-token blocks): the ceiling on any prefix cache's hit ratio\n";
  if (o.reuse.cache_blocks)
    out << "per-node cache:  " << o.reuse.cache_blocks << " blocks x " << o.reuse.nodes
        << " nodes (LRU): round-robin " << 100.0 * w.reuse.rr_ratio() << "%, perfect first-block affinity "
        << 100.0 * w.reuse.affinity_ratio() << "%\n";
  for (const auto& r : d->skip_reasons) out << "skipped:         " << r << "\n";
  std::cout << out.str();
  return cli::exit_ok;
}

/// Writes `text` to `out_file` ('-': standard output); false when it could not.
bool write_out(const std::string& out_file, const std::string& text) {
  if (out_file == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0;
  }
  std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) std::cerr << "pswm gen: " << out_file << ": cannot be written\n";
  return static_cast<bool>(out);
}

}  // namespace

int cmd_gen(int argc, char** argv) {
  std::string kind = "toolbench", out_file, stats_file, field = "workload", prefix, suffix;
  std::string turns = "2-6", user_tokens = "20-80", reply_tokens = "50-200";
  ws::generator_config g;
  ws::session_generator_config sg;
  ws::trace_generator_config tg;
  ws::dataset_config read;
  stats_options so;
  so.reuse.cache_blocks = 4096;
  cli::po::options_description options("Options");
  // clang-format off
  options.add_options()
    ("kind", cli::po::value(&kind)->default_value(kind), "toolbench | loogle | aaps | mixed | multiturn | mooncake")
    ("rate", cli::po::value(&tg.rate_per_s)->default_value(tg.rate_per_s, "1"),
     "mooncake: Poisson arrivals, requests per second (the trace's timestamps)")
    ("input-tokens-mean", cli::po::value(&tg.input_tokens_mean)->default_value(tg.input_tokens_mean, "7000"),
     "mooncake: mean input_length (lognormal)")
    ("output-tokens-mean", cli::po::value(&tg.output_tokens_mean)->default_value(tg.output_tokens_mean, "400"),
     "mooncake: mean output_length (lognormal)")
    ("count", cli::po::value(&g.count)->default_value(g.count), "number of prompts (multiturn: of conversations)")
    ("seed", cli::po::value(&g.seed)->default_value(g.seed), "random seed (same seed, same bytes)")
    ("out,o", cli::po::value(&out_file), "write the JSONL here ('-' for standard output)")
    ("groups", cli::po::value(&g.groups)->default_value(0),
     "shared-prefix groups: tool sets (toolbench, default 32), documents (loogle, default count/6), "
     "preambles (aaps, default 1), prefix families after a shared first block (mooncake, default 100); 0 = default")
    ("zipf", cli::po::value(&g.zipf_s)->default_value(g.zipf_s, "1.1"),
     "toolbench, mooncake: Zipf exponent of tool-set / family popularity (0 = uniform; mooncake's default 1)")
    ("prefix-tokens", cli::po::value(&prefix),
     "shared prefix length N or MIN-MAX in generator units (four-byte word pieces, about 1.6 per "
     "Llama 3 token; defaults: toolbench 1500-3000, loogle 3000-5000, aaps 60-100)")
    ("suffix-tokens", cli::po::value(&suffix),
     "unique suffix length N or MIN-MAX in generator units (defaults: toolbench 20-60, loogle 12-30, aaps 200-500)")
    ("turns", cli::po::value(&turns)->default_value(turns),
     "multiturn: user turns per conversation, N or MIN-MAX (uniform)")
    ("user-tokens", cli::po::value(&user_tokens)->default_value(user_tokens),
     "multiturn: user message length N or MIN-MAX in generator units")
    ("reply-tokens", cli::po::value(&reply_tokens)->default_value(reply_tokens),
     "multiturn: assistant reply length N or MIN-MAX in generator units")
    ("system-tokens", cli::po::value(&sg.system_tokens)->default_value(sg.system_tokens),
     "multiturn: one system prompt of about this many generator units shared by all conversations (0 = none)")
    ("reply-last-turn", cli::po::bool_switch(&sg.reply_last_turn),
     "multiturn: write a reply for the last turn too (a run never sends it)")
    ("field", cli::po::value(&field)->default_value(field),
     "JSON field holding the prompt (written by gen, read by --stats): e.g. workload, prompt, text, messages")
    ("stats", cli::po::value(&stats_file),
     "describe this JSONL dataset instead of generating: prompt count, token lengths, prefix-reuse ceiling")
    ("skip-bad-lines", cli::po::bool_switch(&read.skip_bad_lines), "--stats: skip bad lines and count them")
    ("max-line-bytes", cli::po::value(&read.max_line_bytes)->default_value(read.max_line_bytes),
     "--stats: longest accepted line")
    ("trace-block-tokens", cli::po::value(&read.trace_block_tokens)->default_value(read.trace_block_tokens),
     "mooncake, and --stats on a trace: tokens per hash id (512 for Mooncake's traces, 16 for Alibaba's)")
    ("nodes", cli::po::value(&so.reuse.nodes)->default_value(so.reuse.nodes),
     "--stats: fleet size for the per-node cache ceilings")
    ("cache-blocks", cli::po::value(&so.reuse.cache_blocks)->default_value(so.reuse.cache_blocks),
     "--stats: per-node prefix cache in 16-token blocks (LRU) for the round-robin and affinity ceilings; 0 = skip them")
    ("json", cli::po::bool_switch(&so.json),
     "--stats: print one JSON object (requests, sessions, input_tokens_mean, output_tokens_mean, span_s, "
     "reuse_ceiling, ...)");
  // clang-format on
  int code = cli::exit_ok;
  const std::string usage =
      "Usage: pswm gen --kind toolbench|loogle|aaps|mixed --count N --seed S --out FILE [knobs]\n"
      "       pswm gen --kind multiturn --count N --turns 2-6 --out FILE [--system-tokens N]\n"
      "       pswm gen --kind mooncake --count N --rate R --out FILE [--groups F] [--trace-block-tokens B]\n"
      "       pswm gen --stats FILE [--field F] [--nodes N] [--cache-blocks B] [--json]\n\n"
      "Generates a synthetic JSONL workload ({\"workload\": \"...\"} per line) whose shared-prefix\n"
      "structure matches the named kind, or ShareGPT-style conversations ({\"id\", \"conversations\":\n"
      "[{\"from\", \"value\"}]} per line) for multiturn, a Mooncake-format trace ({\"timestamp\",\n"
      "\"input_length\", \"output_length\", \"hash_ids\"} per line) for mooncake; describes a prompt or conversation file with --stats.";
  const auto vm = cli::parse(argc, argv, usage, options, nullptr, code);
  if (!vm) return code;
  if (field.empty()) throw cli::usage_error("--field: must not be empty");
  if (vm->count("stats")) {
    read.field = field;
    if (read.max_line_bytes == 0) throw cli::usage_error("--max-line-bytes: must be at least 1");
    if (so.reuse.nodes == 0) throw cli::usage_error("--nodes: must be at least 1");
    if (so.reuse.cache_blocks > 1'000'000'000) throw cli::usage_error("--cache-blocks: at most 1000000000");
    if (read.trace_block_tokens == 0) throw cli::usage_error("--trace-block-tokens: must be at least 1");
    if (!vm->count("field") || vm->at("field").defaulted()) {
      const auto shape = peek_shape(stats_file);
      if (shape == file_shape::sessions) return print_session_stats(stats_file, read, so);
      if (shape == file_shape::trace) return print_trace_stats(stats_file, read, so);
    }
    return print_stats(stats_file, read, so);
  }
  if (kind == "multiturn") {
    if (!prefix.empty() || !suffix.empty() || g.groups)
      throw cli::usage_error("--prefix-tokens, --suffix-tokens and --groups do not apply to --kind multiturn; use "
                             "--user-tokens, --reply-tokens, --system-tokens");
    if (g.count == 0) throw cli::usage_error("--count: must be at least 1");
    if (out_file.empty()) throw cli::usage_error("--out: give the file to write ('-' for standard output)");
    sg.sessions = g.count;
    sg.seed = g.seed;
    if (turns.find_first_not_of("0") == std::string::npos || turns.rfind("0-", 0) == 0)
      throw cli::usage_error("--turns: every conversation needs at least 1 turn (N or MIN-MAX, e.g. 2-6)");
    parse_range("--turns", turns, sg.min_turns, sg.max_turns);
    parse_range("--user-tokens", user_tokens, sg.min_user_tokens, sg.max_user_tokens);
    parse_range("--reply-tokens", reply_tokens, sg.min_reply_tokens, sg.max_reply_tokens);
    planetserve::diagnostics diag;
    auto sessions = ws::generate_sessions(sg, diag);
    if (!sessions) throw cli::usage_error(diag.message);
    if (!write_out(out_file, ws::to_sharegpt_jsonl(*sessions))) return cli::exit_failure;
    if (out_file == "-") return cli::exit_ok;
    std::size_t turns_written = 0;
    for (const auto& s : *sessions) turns_written += s.turns.size();
    std::cerr << "pswm gen: wrote " << sessions->size() << " multiturn conversations (" << turns_written
              << " turns) to " << out_file << "\n";
    return cli::exit_ok;
  }
  if (kind == "mooncake") {
    if (g.count == 0) throw cli::usage_error("--count: must be at least 1");
    if (out_file.empty()) throw cli::usage_error("--out: give the file to write ('-' for standard output)");
    if (!(tg.rate_per_s > 0) || tg.rate_per_s > 1e6) throw cli::usage_error("--rate: requests per second, above 0");
    if (read.trace_block_tokens == 0 || read.trace_block_tokens > 1'000'000)
      throw cli::usage_error("--trace-block-tokens: between 1 and 1000000");
    if (!(tg.input_tokens_mean >= 1) || tg.input_tokens_mean > 1e6 || !(tg.output_tokens_mean >= 1) ||
        tg.output_tokens_mean > 1e6)
      throw cli::usage_error("--input-tokens-mean and --output-tokens-mean: between 1 and 1000000");
    if (g.groups > 1'000'000) throw cli::usage_error("--groups: at most 1000000");
    tg.requests = g.count;
    tg.seed = g.seed;
    tg.block_tokens = read.trace_block_tokens;
    if (g.groups) tg.families = g.groups;
    if (vm->count("zipf") && !vm->at("zipf").defaulted()) tg.family_zipf = g.zipf_s;
    if (!write_out(out_file, ws::to_trace_jsonl(ws::generate_trace(tg)))) return cli::exit_failure;
    if (out_file != "-")
      std::cerr << "pswm gen: wrote a " << tg.requests << "-request Mooncake-format trace to " << out_file << "\n";
    return cli::exit_ok;
  }
  const auto k = ws::parse_dataset_kind(kind);
  if (!k) throw cli::usage_error("--kind: '" + kind + "' is not one of toolbench, loogle, aaps, mixed, multiturn");
  g.kind = *k;
  if (g.count == 0) throw cli::usage_error("--count: must be at least 1");
  if (!prefix.empty()) parse_range("--prefix-tokens", prefix, g.prefix_min_tokens, g.prefix_max_tokens);
  if (!suffix.empty()) parse_range("--suffix-tokens", suffix, g.suffix_min_tokens, g.suffix_max_tokens);
  if (out_file.empty()) throw cli::usage_error("--out: give the file to write ('-' for standard output)");
  planetserve::diagnostics diag;
  auto prompts = ws::generate(g, diag);
  if (!prompts) throw cli::usage_error(diag.message);
  if (out_file == "-") {
    const std::string text = ws::to_jsonl(*prompts, field);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? cli::exit_ok : cli::exit_failure;
  }
  if (auto ec = ws::write_dataset(out_file, *prompts, field, diag)) {
    std::cerr << "pswm gen: " << diag.message << "\n";
    return cli::exit_failure;
  }
  std::cerr << "pswm gen: wrote " << prompts->size() << " " << kind << " prompts to " << out_file << "\n";
  return cli::exit_ok;
}

}  // namespace pswm
