// SPDX-License-Identifier: MIT
// pswm gen: write a synthetic workload (toolbench, loogle, aaps, mixed) or describe one (--stats).
#include "cli.hpp"
#include "commands.hpp"

#include <planetserve/tokenize/approx_tokenizer.hpp>
#include <planetserve/workload/dataset.hpp>
#include <planetserve/workload/dataset_stats.hpp>
#include <planetserve/workload/generator.hpp>

#include <cstdio>
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

int print_stats(const std::string& file, const ws::dataset_config& config) {
  planetserve::diagnostics diag;
  auto d = ws::read_dataset(file, config, diag);
  if (!d) {
    std::cerr << "pswm gen: " << diag.message << "\n";
    return cli::exit_failure;
  }
  planetserve::tokenize::approx_tokenizer tok;
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
  for (const auto& r : d->skip_reasons) out << "skipped:         " << r << "\n";
  std::cout << out.str();
  return cli::exit_ok;
}

}  // namespace

int cmd_gen(int argc, char** argv) {
  std::string kind = "toolbench", out_file, stats_file, field = "workload", prefix, suffix;
  ws::generator_config g;
  ws::dataset_config read;
  cli::po::options_description options("Options");
  // clang-format off
  options.add_options()
    ("kind", cli::po::value(&kind)->default_value(kind), "toolbench | loogle | aaps | mixed")
    ("count", cli::po::value(&g.count)->default_value(g.count), "number of prompts")
    ("seed", cli::po::value(&g.seed)->default_value(g.seed), "random seed (same seed, same bytes)")
    ("out,o", cli::po::value(&out_file), "write the JSONL here ('-' for standard output)")
    ("groups", cli::po::value(&g.groups)->default_value(0),
     "shared-prefix groups: tool sets (toolbench, default 32), documents (loogle, default count/6), "
     "preambles (aaps, default 1); 0 = default")
    ("zipf", cli::po::value(&g.zipf_s)->default_value(g.zipf_s, "1.1"),
     "toolbench: Zipf exponent of tool-set popularity (0 = uniform)")
    ("prefix-tokens", cli::po::value(&prefix),
     "shared prefix length N or MIN-MAX in generator units (four-byte word pieces, about 1.6 per "
     "Llama 3 token; defaults: toolbench 1500-3000, loogle 3000-5000, aaps 60-100)")
    ("suffix-tokens", cli::po::value(&suffix),
     "unique suffix length N or MIN-MAX in generator units (defaults: toolbench 20-60, loogle 12-30, aaps 200-500)")
    ("field", cli::po::value(&field)->default_value(field),
     "JSON field holding the prompt (written by gen, read by --stats): e.g. workload, prompt, text, messages")
    ("stats", cli::po::value(&stats_file),
     "describe this JSONL dataset instead of generating: prompt count, token lengths, prefix-reuse ceiling")
    ("skip-bad-lines", cli::po::bool_switch(&read.skip_bad_lines), "--stats: skip bad lines and count them")
    ("max-line-bytes", cli::po::value(&read.max_line_bytes)->default_value(read.max_line_bytes),
     "--stats: longest accepted line");
  // clang-format on
  int code = cli::exit_ok;
  const std::string usage =
      "Usage: pswm gen --kind toolbench|loogle|aaps|mixed --count N --seed S --out FILE [knobs]\n"
      "       pswm gen --stats FILE [--field F]\n\n"
      "Generates a synthetic JSONL workload ({\"workload\": \"...\"} per line) whose shared-prefix\n"
      "structure matches the named kind, or describes any JSONL workload with --stats.";
  const auto vm = cli::parse(argc, argv, usage, options, nullptr, code);
  if (!vm) return code;
  if (field.empty()) throw cli::usage_error("--field: must not be empty");
  if (vm->count("stats")) {
    read.field = field;
    if (read.max_line_bytes == 0) throw cli::usage_error("--max-line-bytes: must be at least 1");
    return print_stats(stats_file, read);
  }
  const auto k = ws::parse_dataset_kind(kind);
  if (!k) throw cli::usage_error("--kind: '" + kind + "' is not one of toolbench, loogle, aaps, mixed");
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
