// SPDX-License-Identifier: MIT
// Tests for the Prometheus text parser: real pages, every split point, and what it must reject.
#include "prom_test_data.hpp"
#include <planetserve/prom/page.hpp>
#include <planetserve/prom/parser.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace planetserve;
using namespace planetserve::prom;

namespace {

using prom_test::read_page;

// Records every event as one line of text, so two parses can be compared exactly.
struct recorder final : sample_sink {
  std::vector<std::string> events;
  std::size_t samples = 0;
  void on_metadata(const metadata_view& m) override {
    std::ostringstream o;
    o << "meta " << static_cast<int>(m.kind) << ' ' << m.family << ' ' << to_string(m.type) << " ["
      << m.text << "] @" << m.line;
    events.push_back(o.str());
  }
  void on_sample(const sample_view& s) override {
    ++samples;
    std::ostringstream o;
    o.precision(17);
    o << s.name << " fam=" << s.family << " type=" << to_string(s.type)
      << " kind=" << static_cast<int>(s.kind) << " {";
    for (const auto& l : s.labels) o << l.name << "=[" << l.value << "],";
    o << "} " << s.value << " bound=" << s.bound;
    if (s.has_timestamp) o << " ts=" << s.timestamp;
    o << " @" << s.line;
    events.push_back(o.str());
  }
};

struct outcome {
  std::vector<std::string> events;
  boost::system::error_code ec;
  std::string message;
  std::size_t line = 0;
};

outcome parse_chunks(std::string_view text, const std::vector<std::size_t>& cuts) {
  recorder r;
  parser p(r);
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    p.feed(text.substr(at, cut - at));
    at = cut;
  }
  p.feed(text.substr(at));
  outcome o;
  o.ec = p.finish();
  o.events = std::move(r.events);
  o.message = p.diag().message;
  o.line = p.lines();
  return o;
}

outcome parse_whole(std::string_view text) { return parse_chunks(text, {}); }

// A page with every feature the parser handles, in a few hundred bytes.
const std::string tricky =
    "# A plain comment\n"
    "#no space: also a comment\n"
    "\n"
    "# HELP http_requests_total Requests; a \\\\ backslash and a \\n newline.\n"
    "# TYPE http_requests_total counter\n"
    "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
    "http_requests_total{ method = \"post\" , code=\"400\" , } 3\n"
    "   http_requests_total{method=\"get\",code=\"200\",} +Inf\n"
    "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
    "metric_without_timestamp_and_labels 12.47\n"
    "something_weird{problem=\"division by zero\"} -Inf -3982045\n"
    "nan_gauge NaN\n"
    "# TYPE rpc_duration_seconds summary\n"
    "rpc_duration_seconds{quantile=\"0.01\"} 3102\n"
    "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
    "rpc_duration_seconds_sum 1.7560473e+07\n"
    "rpc_duration_seconds_count 2693\n"
    "# TYPE vllm:e2e_request_latency_seconds histogram\n"
    "vllm:e2e_request_latency_seconds_sum{model_name=\"m\"} 12.5\n"
    "vllm:e2e_request_latency_seconds_bucket{le=\"+Inf\",model_name=\"m\"} 4.0\n"
    "vllm:e2e_request_latency_seconds_bucket{le=\"10\",model_name=\"m\"} 3.0\n"
    "vllm:e2e_request_latency_seconds_bucket{le=\"2.5e-1\",model_name=\"m\"} 1.0\n"
    "vllm:e2e_request_latency_seconds_bucket{le=\"1.0\",model_name=\"m\"} 2.0\n"
    "vllm:e2e_request_latency_seconds_count{model_name=\"m\"} 4.0\n"
    "# HELP unit_seconds A family with a unit, OpenMetrics style.\n"
    "# TYPE unit_seconds counter\n"
    "# UNIT unit_seconds seconds\n"
    "unit_seconds_total{a=\"\xc3\xa9t\xc3\xa9\"} 17.0 # {trace_id=\"abc\"} 1.0\n"
    "unit_seconds_created{a=\"\xc3\xa9t\xc3\xa9\"} 1.6e9\n"
    "# EOF\n";

}  // namespace

TEST_CASE("prom parser: feeding a page split at every byte gives the same events", "[prom]") {
  const outcome whole = parse_whole(tricky);
  INFO(whole.message);
  REQUIRE_FALSE(whole.ec);
  REQUIRE(whole.events.size() == 26);  // 8 metadata lines, 18 samples
  for (std::size_t cut = 0; cut <= tricky.size(); ++cut) {
    const outcome split = parse_chunks(tricky, {cut});
    INFO("split at byte " << cut);
    REQUIRE_FALSE(split.ec);
    REQUIRE(split.events == whole.events);
  }
  // Two cuts, one inside each half, covers a line split into three pieces.
  for (std::size_t a = 0; a < tricky.size(); a += 7)
    for (std::size_t b = a; b <= tricky.size(); b += 13) {
      const outcome split = parse_chunks(tricky, {a, b});
      INFO("split at bytes " << a << " and " << b);
      REQUIRE(split.events == whole.events);
    }
}

TEST_CASE("prom parser: a real vLLM page fed one byte at a time equals the whole", "[prom]") {
  const std::string text = read_page("vllm_v1.prom");
  const outcome whole = parse_whole(text);
  REQUIRE_FALSE(whole.ec);
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < text.size(); ++i) every.push_back(i);
  const outcome bytes = parse_chunks(text, every);
  REQUIRE_FALSE(bytes.ec);
  REQUIRE(bytes.events == whole.events);
}

TEST_CASE("prom parser: values, labels and escapes are read as written", "[prom]") {
  auto parsed = parse_page(tricky);
  REQUIRE(parsed.has_value());
  const page& pg = *parsed;
  CHECK(pg.eof);
  const family* http = pg.find("http_requests_total");
  REQUIRE(http);
  CHECK(http->type == metric_type::counter);
  CHECK(http->help == "Requests; a \\ backslash and a \n newline.");
  REQUIRE(http->samples.size() == 3);
  CHECK(http->samples[0].value == 1027);
  REQUIRE(http->samples[0].timestamp);
  CHECK(*http->samples[0].timestamp == 1395066363000.0);
  CHECK(*http->samples[1].label("method") == "post");  // blanks inside braces, trailing comma
  CHECK(*http->samples[1].label("code") == "400");
  CHECK(std::isinf(http->samples[2].value));
  CHECK(http->samples[2].value > 0);

  const family* msdos = pg.find("msdos_file_access_time_seconds");
  REQUIRE(msdos);
  CHECK(msdos->type == metric_type::untyped);
  CHECK(*msdos->samples[0].label("path") == "C:\\DIR\\FILE.TXT");
  CHECK(*msdos->samples[0].label("error") == "Cannot find file:\n\"FILE.TXT\"");
  CHECK(msdos->samples[0].value == 1.458255915e9);

  const family* weird = pg.find("something_weird");
  REQUIRE(weird);
  CHECK(std::isinf(weird->samples[0].value));
  CHECK(weird->samples[0].value < 0);
  CHECK(*weird->samples[0].timestamp == -3982045.0);
  CHECK(std::isnan(pg.find("nan_gauge")->samples[0].value));

  const family* rpc = pg.find("rpc_duration_seconds");
  REQUIRE(rpc);
  REQUIRE(rpc->samples.size() == 4);
  CHECK(rpc->samples[0].kind == sample_kind::quantile);
  CHECK(rpc->samples[0].bound == 0.01);
  CHECK(rpc->samples[2].kind == sample_kind::sum);
  CHECK(rpc->samples[3].kind == sample_kind::count);

  const family* unit = pg.find("unit_seconds");
  REQUIRE(unit);
  CHECK(unit->unit == "seconds");
  REQUIRE(unit->samples.size() == 2);
  CHECK(unit->samples[0].kind == sample_kind::total);  // the exemplar is skipped
  CHECK(unit->samples[0].value == 17.0);
  CHECK(*unit->samples[0].label("a") == "\xc3\xa9t\xc3\xa9");
  CHECK(unit->samples[1].kind == sample_kind::created);
}

TEST_CASE("prom parser: le is compared as a number, and buckets may come in any order", "[prom]") {
  auto parsed = parse_page(tricky);
  REQUIRE(parsed.has_value());
  const family* e2e = parsed->find("vllm:e2e_request_latency_seconds");
  REQUIRE(e2e);
  const auto series = histograms(*e2e);
  REQUIRE(series.size() == 1);
  const auto& h = series[0];
  REQUIRE(h.buckets.size() == 4);
  // As strings "+Inf" < "1.0" < "10" < "2.5e-1"; as numbers 0.25 < 1 < 10 < +Inf.
  CHECK(h.buckets[0].le == 0.25);
  CHECK(h.buckets[0].count == 1.0);
  CHECK(h.buckets[1].le == 1.0);
  CHECK(h.buckets[2].le == 10.0);
  CHECK(std::isinf(h.buckets[3].le));
  CHECK(h.buckets[3].count == 4.0);
  REQUIRE(h.sum);
  CHECK(*h.sum == 12.5);
  REQUIRE(h.count);
  CHECK(*h.count == 4.0);
  CHECK(h.labels == std::vector<std::pair<std::string, std::string>>{{"model_name", "m"}});
}

TEST_CASE("prom parser: every generated vLLM page parses, with its histograms consistent", "[prom]") {
  for (const char* name : {"vllm_v1.prom", "vllm_v1_dp2.prom", "vllm_v0.prom",
                           "vllm_v1_multiprocess.prom", "vllm_v1_openmetrics.prom"}) {
    INFO(name);
    diagnostics diag;
    auto parsed = parse_page(read_page(name), &diag);
    INFO(diag.message);
    REQUIRE(parsed.has_value());
    CHECK(parsed->eof == (std::string(name) == "vllm_v1_openmetrics.prom"));
    const family* ttft = parsed->find("vllm:time_to_first_token_seconds");
    REQUIRE(ttft);
    CHECK(ttft->type == metric_type::histogram);
    std::size_t checked = 0;
    for (const family& f : parsed->families) {
      if (f.type != metric_type::histogram) continue;
      for (const auto& h : histograms(f)) {
        REQUIRE_FALSE(h.buckets.empty());
        REQUIRE(h.count);
        // Cumulative buckets: non-decreasing in numeric le order, +Inf last and equal to _count.
        for (std::size_t i = 1; i < h.buckets.size(); ++i) {
          CHECK(h.buckets[i - 1].le < h.buckets[i].le);
          CHECK(h.buckets[i - 1].count <= h.buckets[i].count);
        }
        CHECK(std::isinf(h.buckets.back().le));
        CHECK(h.buckets.back().count == *h.count);
        ++checked;
      }
    }
    CHECK(checked >= 15);
  }
}

TEST_CASE("prom parser: the multi-process page puts _sum before the buckets", "[prom]") {
  const std::string text = read_page("vllm_v1_multiprocess.prom");
  const auto sum_at = text.find("vllm:time_to_first_token_seconds_sum{");
  const auto bucket_at = text.find("vllm:time_to_first_token_seconds_bucket{");
  REQUIRE(sum_at != std::string::npos);
  REQUIRE(bucket_at != std::string::npos);
  CHECK(sum_at < bucket_at);  // the ordering this test data exists to cover
  auto parsed = parse_page(text);
  REQUIRE(parsed.has_value());
  const auto series = histograms(*parsed->find("vllm:time_to_first_token_seconds"));
  REQUIRE(series.size() == 1);
  REQUIRE(series[0].sum);
  CHECK(*series[0].sum > 0);
}

TEST_CASE("prom parser: OpenMetrics counters, _created and # EOF", "[prom]") {
  auto parsed = parse_page(read_page("vllm_v1_openmetrics.prom"));
  REQUIRE(parsed.has_value());
  const family* prompt = parsed->find("vllm:prompt_tokens");
  REQUIRE(prompt);
  CHECK(prompt->type == metric_type::counter);
  REQUIRE(prompt->samples.size() == 2);
  CHECK(prompt->samples[0].name == "vllm:prompt_tokens_total");
  CHECK(prompt->samples[0].kind == sample_kind::total);
  CHECK(prompt->samples[1].kind == sample_kind::created);
  CHECK(prompt->samples[1].value > 1e9);
  // In 0.0.4 the same client writes _created as a gauge family of its own.
  auto classic = parse_page(read_page("vllm_v1.prom"));
  REQUIRE(classic.has_value());
  const family* created = classic->find("vllm:prompt_tokens_created");
  REQUIRE(created);
  CHECK(created->type == metric_type::gauge);
}

namespace {
struct rejection {
  const char* name;
  std::string text;
  planetserve::error code;
  std::size_t line;
  const char* says;
};
}  // namespace

TEST_CASE("prom parser: rejects what the Go parser rejects, naming the line", "[prom]") {
  using e = planetserve::error;
  const std::string ok = "# TYPE a gauge\na 1\n";  // two good lines first, so line numbers count
  const std::vector<rejection> cases = {
      {"duplicate label", ok + "b{x=\"1\",y=\"2\",x=\"3\"} 1\n", e::duplicate_label, 3, "duplicate label \"x\""},
      {"unknown escape", ok + "b{x=\"a\\tb\"} 1\n", e::unknown_escape, 3, "unknown escape \"\\t\""},
      {"unterminated string", ok + "b{x=\"abc} 1\n", e::unterminated_string, 3, "no closing quote"},
      {"unterminated at end of page", ok + "b{x=\"abc", e::unterminated_string, 3, "no closing quote"},
      {"value not a number", ok + "b 1.2.3\n", e::invalid_number, 3, "value \"1.2.3\" is not a number"},
      {"value is a word", ok + "b{x=\"1\"} one\n", e::invalid_number, 3, "not a number"},
      {"nan with payload", ok + "b nan(1)\n", e::invalid_number, 3, "not a number"},
      {"timestamp not a number", ok + "b 1 soon\n", e::invalid_number, 3, "timestamp \"soon\""},
      {"negative bucket count", ok + "# TYPE h histogram\nh_bucket{le=\"1\"} -1\n", e::negative_bucket_count, 4, "negative"},
      {"bucket without le", ok + "# TYPE h histogram\nh_bucket{x=\"1\"} 1\n", e::malformed_line, 4, "no \"le\" label"},
      {"le not a number", ok + "# TYPE h histogram\nh_bucket{le=\"big\"} 1\n", e::invalid_number, 4, "le=\"big\""},
      {"quantile not a number", ok + "# TYPE s summary\ns{quantile=\"p50\"} 1\n", e::invalid_number, 4, "quantile=\"p50\""},
      {"second TYPE", ok + "# TYPE a counter\n", e::malformed_line, 3, "second TYPE line"},
      {"second HELP", "# HELP a x\n# HELP a y\n", e::malformed_line, 2, "second HELP line"},
      {"TYPE after samples", "a 1\nb 2\n# TYPE a gauge\n", e::malformed_line, 3, "after samples"},
      {"unknown type", ok + "# TYPE b meter\n", e::malformed_line, 3, "unknown metric type \"meter\""},
      {"HELP escape", "# HELP a tab\\there\n", e::unknown_escape, 1, "unknown escape"},
      {"bad metric name", ok + "1abc 1\n", e::malformed_line, 3, "expected a metric name"},
      {"bad label name", ok + "b{1x=\"1\"} 1\n", e::malformed_line, 3, "expected a label name"},
      {"unquoted label value", ok + "b{x=1} 1\n", e::malformed_line, 3, "is not quoted"},
      {"missing value", ok + "b{x=\"1\"}\n", e::malformed_line, 3, "no value"},
      {"unclosed braces", ok + "b{x=\"1\" 1\n", e::malformed_line, 3, "expected ',' or '}'"},
      {"text after the value", ok + "b 1 2 3\n", e::malformed_line, 3, "unexpected text"},
      {"histogram sample without suffix", ok + "# TYPE h histogram\nh 1\n", e::malformed_line, 4, "needs a suffix"},
      {"content after EOF", ok + "# EOF\nb 1\n", e::malformed_line, 4, "after \"# EOF\""},
      {"invalid UTF-8", ok + "b{x=\"\xff\"} 1\n", e::invalid_utf8, 3, "not UTF-8"},
      {"negative histogram count", ok + "# TYPE h histogram\nh_count -2\n", e::negative_bucket_count, 4, "negative"},
      {"value out of range", ok + "b 1e999\n", e::invalid_number, 3, "not a number"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const outcome whole = parse_whole(c.text);
    INFO(whole.message);
    REQUIRE(whole.ec == make_error_code(c.code));
    CHECK(whole.line == c.line);
    CHECK(whole.message.rfind("line " + std::to_string(c.line) + ": ", 0) == 0);
    CHECK(whole.message.find(c.says) != std::string::npos);
    // The same verdict whatever the chunking.
    for (std::size_t cut = 0; cut <= c.text.size(); ++cut) {
      const outcome split = parse_chunks(c.text, {cut});
      INFO("split at " << cut);
      REQUIRE(split.ec == whole.ec);
      REQUIRE(split.message == whole.message);
    }
  }
}

TEST_CASE("prom parser: accepts the forms the Go parser accepts", "[prom]") {
  for (const std::string& text : {
           std::string("a{} 1\n"),                     // empty braces
           std::string("a{x=\"1\",} 1\n"),             // trailing comma
           std::string("a { x = \"1\" } 1\n"),         // blanks everywhere inside
           std::string("a\t-1.5e-3\t123\n"),           // tabs, exponent, timestamp
           std::string("a +Inf\nb -Inf\nc NaN\nd Inf\n"),
           std::string("a 1\r\n"),                     // a CRLF page
           std::string("# TYPE a gauge\n# HELP a h\na 1\n"),  // HELP after TYPE
           std::string("a 1"),                         // no final newline
           std::string(""),                            // an empty page
           std::string("# TYPE h histogram\nh_count 1\nh_bucket{le=\"+Inf\"} 1\n"),
           std::string("# TYPE g gaugehistogram\ng_bucket{le=\"1\"} 1\ng_gsum 1\ng_gcount 1\n"),
           std::string("# TYPE i info\ni_info{v=\"1\"} 1\n# TYPE s stateset\ns{s=\"a\"} 1\n"),
           std::string("a 1\n# EOF\n\n"),              // blank lines after EOF
       }) {
    INFO(text);
    const outcome o = parse_whole(text);
    INFO(o.message);
    CHECK_FALSE(o.ec);
  }
}

TEST_CASE("prom parser: an over-long line is rejected, and reset() starts a new page", "[prom]") {
  recorder r;
  parser p(r, parser_config{.max_line_bytes = 16});
  CHECK(p.feed("short 1\nthis_name_is_far_too_long 1\n") == make_error_code(error::line_too_long));
  CHECK(p.diag().message.rfind("line 2: ", 0) == 0);
  CHECK(p.feed("a 1\n") == make_error_code(error::line_too_long));  // the error sticks
  p.reset();
  r.events.clear();
  CHECK_FALSE(p.feed("a 1\n"));
  CHECK_FALSE(p.finish());
  CHECK(r.events.size() == 1);
  // A partial line growing past the limit across chunks is caught too.
  p.reset();
  CHECK_FALSE(p.feed("abcdefghij"));
  CHECK(p.feed("klmnopqrstu") == make_error_code(error::line_too_long));
}

TEST_CASE("prom parser: samples rejoin their family when families interleave", "[prom]") {
  auto parsed = parse_page(
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n# TYPE g gauge\ng 2\nh_sum 3\nh_count 1\n"
      "h_bucket{le=\"+Inf\"} 1\n");
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->families.size() == 2);
  const auto series = histograms(*parsed->find("h"));
  REQUIRE(series.size() == 1);
  CHECK(series[0].buckets.size() == 2);
  CHECK(*series[0].sum == 3);
}
