// SPDX-License-Identifier: MIT
// Compiled body of the dataset generators.
#pragma once

#include <planetserve/workload/detail/lexicon.hpp>
#include <planetserve/workload/generator.hpp>
#include <planetserve/workload/rng.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace planetserve::workload {

std::optional<dataset_kind> parse_dataset_kind(std::string_view name) noexcept {
  if (name == "toolbench") return dataset_kind::toolbench;
  if (name == "loogle") return dataset_kind::loogle;
  if (name == "aaps") return dataset_kind::aaps;
  if (name == "mixed") return dataset_kind::mixed;
  return std::nullopt;
}

std::string_view to_string(dataset_kind k) noexcept {
  switch (k) {
    case dataset_kind::toolbench: return "toolbench";
    case dataset_kind::loogle: return "loogle";
    case dataset_kind::aaps: return "aaps";
    case dataset_kind::mixed: return "mixed";
  }
  return "unknown";
}

// The generator's length unit: words (with one leading space) and punctuation and space runs
// cut into four-byte pieces, as the approximate tokenizer counted before it was calibrated
// to Llama 3. The shipped datasets were made with it, so it stays.
std::size_t generator_units(std::string_view text) noexcept {
  enum class cls { space, word, other };
  auto classify = [](unsigned char c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') return cls::space;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80) return cls::word;
    return cls::other;
  };
  constexpr std::size_t piece = 4;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t units = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t end = i + 1;
    cls c = classify(p[i]);
    if (p[i] == ' ' && end < n && classify(p[end]) == cls::word) {
      c = cls::word;
      ++end;
    }
    if (c == cls::word) {
      while (end < n && classify(p[end]) == cls::word) ++end;
    } else if (c == cls::space) {
      while (end < n && classify(p[end]) == cls::space &&
             !(p[end] == ' ' && end + 1 < n && classify(p[end + 1]) == cls::word))
        ++end;
    } else {
      while (end < n && classify(p[end]) == cls::other) ++end;
    }
    units += (end - i + piece - 1) / piece;
    i = end;
  }
  return units;
}

namespace detail {

/// English plural of a lexicon noun (the lexicon avoids irregular ones).
inline std::string plural_of(std::string_view noun) {
  std::string s(noun);
  const auto ends = [&](std::string_view e) { return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0; };
  if (ends("s") || ends("x") || ends("ch") || ends("sh")) return s + "es";
  if (ends("y") && s.size() >= 2 && std::string_view("aeiou").find(s[s.size() - 2]) == std::string_view::npos)
    return s.substr(0, s.size() - 1) + "ies";
  return s + "s";
}

/// Turns a just-written article "a" into "an" when `next` starts with a vowel.
inline void fix_article(std::string& out, std::string_view next) {
  if (next.empty() || std::string_view("aeiouAEIOU").find(next[0]) == std::string_view::npos) return;
  const std::size_t n = out.size();
  if (n >= 2 && (out[n - 2] == 'a' || out[n - 2] == 'A') && out[n - 1] == ' ' && (n == 2 || out[n - 3] == ' '))
    out.insert(n - 1, "n");
}

/// Fills sentence templates with words and counts generator units as text grows.
class text_maker {
 public:
  explicit text_maker(rng& r) : r_(r) {}

  template <class T, std::size_t N>
  const T& pick(const T (&items)[N]) {
    return items[r_.below(N)];
  }

  std::size_t tokens(std::string_view s) const { return generator_units(s); }

  /// One filled template, first letter capitalised.
  std::string fill(std::string_view tmpl) {
    std::string out;
    out.reserve(tmpl.size() * 2);
    for (std::size_t i = 0; i < tmpl.size();) {
      if (tmpl[i] != '{') {
        out += tmpl[i++];
        continue;
      }
      const std::size_t close = tmpl.find('}', i);
      const std::string_view slot = tmpl.substr(i + 1, close - i - 1);
      i = close + 1;
      std::string_view word;
      std::string plural;
      if (slot == "N" || slot == "N2") word = pick(nouns);
      else if (slot == "Ns") word = plural = plural_of(pick(nouns));
      else if (slot == "A") word = pick(adjectives);
      else if (slot == "V") word = pick(verbs).base;
      else if (slot == "Vs") word = pick(verbs).s;
      else if (slot == "Ved") word = pick(verbs).ed;
      else if (slot == "R") word = pick(adverbs);
      else if (slot == "P") word = pick(people);
      else if (slot == "L") word = pick(places);
      else if (slot == "D") word = plural = std::to_string(2 + r_.below(58));
      else if (slot == "Y") word = plural = std::to_string(1850 + r_.below(170));
      fix_article(out, word);
      out += word;
    }
    if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
    return out;
  }

  template <std::size_t N>
  std::string sentence(const std::string_view (&templates)[N]) {
    return fill(pick(templates));
  }

  /// Sentences from `templates`, joined by spaces, until at least `min_tokens`.
  template <std::size_t N>
  std::string sentences(const std::string_view (&templates)[N], std::size_t min_tokens) {
    std::string out;
    std::size_t n = 0;
    while (n < min_tokens || out.empty()) {
      std::string s = sentence(templates);
      if (!out.empty()) s.insert(s.begin(), ' ');
      n += tokens(s);
      out += s;
    }
    return out;
  }

  rng& random() noexcept { return r_; }

 private:
  rng& r_;
};

/// Draws ranks 0..n-1 with probability proportional to 1/(rank+1)^s.
class zipf_sampler {
 public:
  zipf_sampler(std::size_t n, double s) : cdf_(n) {
    double sum = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), s);
      cdf_[k] = sum;
    }
    for (auto& c : cdf_) c /= sum;
  }

  std::size_t operator()(rng& r) const {
    const double u = r.uniform();
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    return std::min(static_cast<std::size_t>(it - cdf_.begin()), cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

inline std::string snake(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c == ' ') c = '_';
  return out;
}

inline std::size_t or_default(std::size_t v, std::size_t d) noexcept { return v ? v : d; }

/// The seed of shared prefix `index` of one kind: each prefix has its own stream, so it can be
/// built when first used (a huge --groups costs nothing for groups never drawn) and its text
/// does not depend on what was drawn before it.
inline std::uint64_t group_seed(std::uint64_t seed, std::uint64_t kind, std::uint64_t index) noexcept {
  std::uint64_t x = seed ^ (kind * 0x9e3779b97f4a7c15ULL);
  x = rng::splitmix64(x) ^ index;
  return rng::splitmix64(x);
}

/// Builds shared prefixes on first use.
template <class Make>
class lazy_groups {
 public:
  lazy_groups(std::size_t n, Make make) : items_(n), make_(std::move(make)) {}
  const std::string& operator[](std::size_t i) {
    if (!items_[i]) items_[i] = make_(i);
    return *items_[i];
  }

 private:
  std::vector<std::optional<std::string>> items_;
  Make make_;
};

// ---- toolbench -------------------------------------------------------------------------

inline constexpr std::string_view toolbench_preamble =
    "You are a helpful assistant that solves the user's request by calling tools. You can call "
    "the tools documented below. Think step by step, call at most one tool per step, pass only "
    "the documented arguments, and when you have enough information reply to the user with a "
    "final answer. If no tool fits the request, say so plainly.\n";

inline constexpr std::string_view param_suffixes[] = {"id", "name", "date", "limit", "type", "region",
                                                      "status", "query", "code", "count"};
inline constexpr std::string_view param_types[] = {"string", "string", "integer", "boolean", "string",
                                                   "number"};

inline std::string tool_doc(text_maker& m, std::string_view domain) {
  const auto& v = m.pick(verbs);
  const std::string name = snake(domain) + "_" + std::string(v.base) + "_" + std::string(m.pick(nouns));
  std::string doc = "\n### Tool `" + name + "`\nDescription: ";
  const std::size_t desc = m.random().between(3, 5);
  for (std::size_t i = 0; i < desc; ++i) {
    if (i) doc += ' ';
    doc += m.sentence(tool_templates);
  }
  doc += ' ';
  doc += m.sentence(prose_templates);
  doc += "\nParameters:\n";
  const std::size_t params = m.random().between(3, 6);
  std::vector<std::string> pnames;
  for (std::size_t i = 0; i < params; ++i) {
    std::string p(m.pick(nouns));
    p += "_";
    p += m.pick(param_suffixes);
    const auto& type = m.pick(param_types);
    const bool required = i < 2;
    doc += "- `" + p + "` (" + std::string(type) + (required ? ", required): " : ", optional): ") +
           m.sentence(param_templates) + "\n";
    pnames.push_back(std::move(p));
  }
  // One random draw per statement: the order of evaluation of a + b is unspecified, and
  // compilers differ, so a chain of draws inside one expression is not reproducible.
  const std::string_view field1 = m.pick(nouns);
  const std::string_view field2 = m.pick(nouns);
  const std::string returns = m.sentence(tool_templates);
  doc += "Returns: a JSON object with the fields `" + std::string(field1) + "`, `" + std::string(field2) +
         "_list` and `status`. " + returns + "\n";
  const std::string_view place = m.pick(places);
  const auto number = 1 + m.random().below(99);
  doc += "Example call: {\"name\": \"" + name + "\", \"arguments\": {\"" + pnames[0] + "\": \"" +
         std::string(place) + "\", \"" + pnames[1] + "\": " + std::to_string(number) + "}}\n";
  return doc;
}

inline std::string toolbench_system_prompt(text_maker& m, std::size_t index, std::size_t target, std::size_t floor) {
  const std::string_view domain = tool_domains[index % std::size(tool_domains)];
  std::string s(toolbench_preamble);
  s += "\n## Tool set " + std::to_string(index + 1) + ": " + std::string(domain) + " tools\n";
  s += m.sentences(prose_templates, 40) + "\n";
  std::size_t n = m.tokens(s);
  while (n < target) {
    std::string doc = tool_doc(m, domain);
    const std::size_t d = m.tokens(doc);
    // Keep whichever of "with" and "without" this tool lands nearer the target.
    if (n >= floor && n + d > target && n + d - target > target - n) break;
    n += d;
    s += doc;
  }
  return s;
}

inline std::vector<std::string> make_toolbench(const generator_config& c, rng& r) {
  text_maker m(r);
  const std::size_t groups = or_default(c.groups, 32);
  const std::size_t pmin = or_default(c.prefix_min_tokens, 1500), pmax = or_default(c.prefix_max_tokens, 3000);
  const std::size_t smin = or_default(c.suffix_min_tokens, 20), smax = or_default(c.suffix_max_tokens, 60);
  lazy_groups systems(groups, [&](std::size_t g) {
    rng gr(group_seed(c.seed, 1, g));
    text_maker mg(gr);
    const std::size_t target = gr.between(pmin, pmax);
    return toolbench_system_prompt(mg, g, target, pmin);
  });
  // Popularity rank -> tool set through a permutation, so set 1 is not always the favourite.
  std::vector<std::size_t> order(groups);
  for (std::size_t g = 0; g < groups; ++g) order[g] = g;
  r.shuffle(order.begin(), order.end());
  const zipf_sampler zipf(groups, c.zipf_s);
  std::vector<std::string> out;
  out.reserve(c.count);
  for (std::size_t i = 0; i < c.count; ++i) {
    const std::string& sys = systems[order[zipf(r)]];
    std::string p = sys;
    p += "\nUser request (ticket " + std::to_string(100000 + r.below(900000)) + "): ";
    p += m.sentences(request_templates, r.between(smin, smax));
    out.push_back(std::move(p));
  }
  return out;
}

// ---- loogle ----------------------------------------------------------------------------

inline constexpr std::string_view loogle_instruction =
    "Please answer the question based on the long text below. Quote the text where it helps.\n\n";

inline std::string loogle_document(text_maker& m, std::size_t target) {
  std::string s = "Title: The ";
  s += m.pick(adjectives);
  s += " ";
  s += m.pick(nouns);
  s += " of ";
  s += m.pick(places);
  s += "\n";
  std::size_t n = m.tokens(s);
  for (std::size_t section = 1; n < target; ++section) {
    std::string part = "\nSection " + std::to_string(section) + ": " + m.fill("{A} {N} and the {N2}") + "\n";
    const std::size_t paragraphs = m.random().between(1, 3);
    for (std::size_t p = 0; p < paragraphs; ++p) {
      if (p) part += "\n";
      part += m.sentences(prose_templates, m.random().between(60, 140)) + "\n";
    }
    n += m.tokens(part);
    s += part;
  }
  return s;
}

inline std::vector<std::string> make_loogle(const generator_config& c, rng& r) {
  text_maker m(r);
  const std::size_t groups = or_default(c.groups, std::max<std::size_t>(1, (c.count + 3) / 6));
  const std::size_t pmin = or_default(c.prefix_min_tokens, 3000), pmax = or_default(c.prefix_max_tokens, 5000);
  const std::size_t smin = or_default(c.suffix_min_tokens, 12), smax = or_default(c.suffix_max_tokens, 30);
  lazy_groups docs(groups, [&](std::size_t g) {
    rng gr(group_seed(c.seed, 2, g));
    text_maker mg(gr);
    const std::size_t target = gr.between(pmin, pmax);
    return loogle_document(mg, target);
  });
  // Every document gets its share of the questions; the order is then shuffled.
  std::vector<std::size_t> which(c.count);
  for (std::size_t i = 0; i < c.count; ++i) which[i] = i % groups;
  r.shuffle(which.begin(), which.end());
  std::vector<std::set<std::string>> asked(groups);
  std::vector<std::string> out;
  out.reserve(c.count);
  for (const std::size_t d : which) {
    std::string q;
    for (int attempt = 0; attempt < 100; ++attempt) {
      q = m.sentences(question_templates, r.between(smin, smax));
      if (!asked[d].count(q)) break;
    }
    while (asked[d].count(q)) q += " Be specific.";
    asked[d].insert(q);
    std::string p(loogle_instruction);
    p += docs[d];
    p += "\nQuestion: " + q + "\nAnswer:";
    out.push_back(std::move(p));
  }
  return out;
}

// ---- aaps ------------------------------------------------------------------------------

inline constexpr std::string_view aaps_rules[] = {
    "Solve the following competitive programming problem in Python 3.",
    "Read the input from standard input and write the answer to standard output.",
    "Your program must be correct on every test and fast enough for the largest constraints.",
    "Explain the idea of your algorithm in a few sentences before the code.",
    "Put the complete program in a single code block.",
    "Do not print anything the output format does not ask for.",
    "Think about edge cases such as a single element, equal values and the largest inputs.",
    "Prefer simple data structures and avoid deep recursion.",
    "Use integer arithmetic where possible to avoid rounding errors.",
    "If several answers are valid, print any of them.",
};

inline std::string aaps_preamble(text_maker& m, std::size_t target) {
  std::vector<std::size_t> order(std::size(aaps_rules));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  m.random().shuffle(order.begin(), order.end());
  std::string s = "You are an expert programmer.";
  std::size_t n = m.tokens(s);
  for (std::size_t i = 0; n < target; ++i) {
    std::string add = " " + (i < order.size() ? std::string(aaps_rules[order[i]]) : m.sentence(prose_templates));
    n += m.tokens(add);
    s += add;
  }
  return s + "\n";
}

inline std::string aaps_problem(text_maker& m, std::size_t target) {
  auto& r = m.random();
  const std::string noun(m.pick(nouns));
  // One random draw per statement (see tool_doc).
  const std::size_t limit = std::size_t{1} << r.between(10, 18);
  const std::size_t value_limit = std::size_t{1} << r.between(8, 30);
  const std::string_view adjective = m.pick(adjectives);
  const std::string_view done = m.pick(verbs).ed;
  std::string tail = "\n\n-----Input-----\nThe first line contains a single integer n (1 <= n <= " + std::to_string(limit) +
                     ") - the number of " + plural_of(noun) + ". The second line contains n integers a_1, a_2, ..., a_n (0 <= a_i <= " +
                     std::to_string(value_limit) + ").\n\n-----Output-----\nPrint one integer: the " +
                     std::string(adjective) + " number of " + plural_of(noun) + " that can be " +
                     std::string(done) + ".\n\n-----Examples-----\nInput\n";
  const std::size_t n = r.between(3, 8);
  std::uint64_t sum = 0;
  tail += std::to_string(n) + "\n";
  for (std::size_t i = 0; i < n; ++i) {
    const auto v = r.below(100);
    sum += v;
    tail += (i ? " " : "") + std::to_string(v);
  }
  tail += "\n\nOutput\n" + std::to_string(sum % 97) + "\n\n-----Note-----\n" + m.sentence(prose_templates) +
          "\n\nANSWER:\n";
  std::string head = "\nQUESTION:\n" + m.sentence(problem_templates);
  const std::size_t fixed = m.tokens(head) + m.tokens(tail);
  if (fixed < target) head += " " + m.sentences(prose_templates, target - fixed);
  return head + tail;
}

inline std::vector<std::string> make_aaps(const generator_config& c, rng& r) {
  text_maker m(r);
  const std::size_t groups = or_default(c.groups, 1);
  const std::size_t pmin = or_default(c.prefix_min_tokens, 60), pmax = or_default(c.prefix_max_tokens, 100);
  const std::size_t smin = or_default(c.suffix_min_tokens, 200), smax = or_default(c.suffix_max_tokens, 500);
  lazy_groups preambles(groups, [&](std::size_t g) {
    rng gr(group_seed(c.seed, 3, g));
    text_maker mg(gr);
    const std::size_t target = gr.between(pmin, pmax);
    return aaps_preamble(mg, target);
  });
  std::vector<std::string> out;
  out.reserve(c.count);
  for (std::size_t i = 0; i < c.count; ++i) {
    std::string p = preambles[static_cast<std::size_t>(r.below(groups))];
    p += aaps_problem(m, r.between(smin, smax));
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace detail

result<std::vector<std::string>> generate(const generator_config& c, diagnostics& diag) {
  auto fail = [&](std::string why) -> result<std::vector<std::string>> {
    diag.message = "generator: " + std::move(why);
    return make_error_code(error::invalid_argument);
  };
  if (c.count == 0) return fail("count must be at least 1");
  if (c.count > max_generated_prompts)
    return fail("count must be at most " + std::to_string(max_generated_prompts) + ", got " + std::to_string(c.count));
  if (c.groups > max_generated_groups)
    return fail("groups must be at most " + std::to_string(max_generated_groups) + ", got " + std::to_string(c.groups));
  if (c.prefix_max_tokens > max_generated_tokens || c.suffix_max_tokens > max_generated_tokens ||
      c.prefix_min_tokens > max_generated_tokens || c.suffix_min_tokens > max_generated_tokens)
    return fail("prefix and suffix lengths must be at most " + std::to_string(max_generated_tokens) + " tokens");
  if (!(c.zipf_s >= 0.0) || !std::isfinite(c.zipf_s)) return fail("the Zipf exponent must be a finite number >= 0");
  if (c.prefix_min_tokens && c.prefix_max_tokens && c.prefix_min_tokens > c.prefix_max_tokens)
    return fail("the shortest prefix is longer than the longest");
  if (c.suffix_min_tokens && c.suffix_max_tokens && c.suffix_min_tokens > c.suffix_max_tokens)
    return fail("the shortest suffix is longer than the longest");
  // A lone min or max must still leave a valid range against the kind's default for the other end.
  if (c.kind != dataset_kind::mixed) {
    const std::size_t dpmin = c.kind == dataset_kind::toolbench ? 1500 : c.kind == dataset_kind::loogle ? 3000 : 60;
    const std::size_t dpmax = c.kind == dataset_kind::toolbench ? 3000 : c.kind == dataset_kind::loogle ? 5000 : 100;
    const std::size_t dsmin = c.kind == dataset_kind::toolbench ? 20 : c.kind == dataset_kind::loogle ? 12 : 200;
    const std::size_t dsmax = c.kind == dataset_kind::toolbench ? 60 : c.kind == dataset_kind::loogle ? 30 : 500;
    if (detail::or_default(c.prefix_min_tokens, dpmin) > detail::or_default(c.prefix_max_tokens, dpmax))
      return fail("the prefix range is empty (give both ends)");
    if (detail::or_default(c.suffix_min_tokens, dsmin) > detail::or_default(c.suffix_max_tokens, dsmax))
      return fail("the suffix range is empty (give both ends)");
  }
  rng r(c.seed);
  switch (c.kind) {
    case dataset_kind::toolbench: return detail::make_toolbench(c, r);
    case dataset_kind::loogle: return detail::make_loogle(c, r);
    case dataset_kind::aaps: return detail::make_aaps(c, r);
    case dataset_kind::mixed: break;
  }
  if (c.groups || c.prefix_min_tokens || c.prefix_max_tokens || c.suffix_min_tokens || c.suffix_max_tokens)
    return fail("groups and prefix/suffix lengths do not apply to mixed; generate the parts separately");
  std::vector<std::string> all;
  const std::size_t third = c.count / 3, extra = c.count % 3;
  const dataset_kind parts[] = {dataset_kind::toolbench, dataset_kind::loogle, dataset_kind::aaps};
  std::uint64_t derive = c.seed;
  for (std::size_t i = 0; i < 3; ++i) {
    generator_config sub;
    sub.kind = parts[i];
    sub.count = third + (i < extra ? 1 : 0);
    sub.seed = rng::splitmix64(derive);
    sub.zipf_s = c.zipf_s;
    if (sub.count == 0) continue;
    auto got = generate(sub, diag);
    if (!got) return got.error();
    for (auto& p : *got) all.push_back(std::move(p));
  }
  r.shuffle(all.begin(), all.end());
  return all;
}

}  // namespace planetserve::workload
