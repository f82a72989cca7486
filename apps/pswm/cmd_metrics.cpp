// SPDX-License-Identifier: MIT
// pswm metrics: read one vLLM /metrics page (a URL, a saved file or stdin) and print its snapshot.
#include "cli.hpp"
#include "commands.hpp"

#include <planetserve/detail/rethrow.hpp>
#include <planetserve/http/client.hpp>
#include <planetserve/http/url.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <planetserve/prom/vllm_snapshot.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

namespace pswm {

namespace {

namespace prom = planetserve::prom;

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

/// Scrapes `url` once (sending `api_key` as a Bearer token when set) and returns the body.
/// A URL without a path ("http://host:8000") means its /metrics.
std::optional<std::string> scrape(const std::string& url, const std::string& api_key) {
  planetserve::diagnostics diag;
  auto parsed = planetserve::http::parse_url(url, diag);
  if (!parsed) {
    std::cerr << "pswm metrics: " << diag.message << "\n";
    return std::nullopt;
  }
  const std::string target = parsed->target == "/" ? std::string("/metrics") : parsed->target;
  boost::asio::io_context io;
  planetserve::http::client_config cfg;
  cfg.connect_timeout = std::chrono::seconds(5);
  cfg.read_timeout = std::chrono::seconds(10);
  cfg.total_timeout = std::chrono::seconds(15);
  auto client = planetserve::http::client::create(io.get_executor(), parsed->origin(), cfg, diag);
  if (!client) {
    std::cerr << "pswm metrics: " << diag.message << "\n";
    return std::nullopt;
  }
  const std::string auth = "Bearer " + api_key;
  const planetserve::http::header_field headers[] = {{"Authorization", auth}};
  std::optional<std::string> body;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        auto r = co_await client->async_fetch(
            planetserve::http::client_request::get(
                target, api_key.empty() ? std::span<const planetserve::http::header_field>{}
                                        : std::span<const planetserve::http::header_field>(headers)),
            diag);
        if (!r) {
          std::cerr << "pswm metrics: " << (diag.empty() ? r.error().message() : diag.message) << "\n";
        } else if (r->status != 200) {
          std::cerr << "pswm metrics: " << parsed->origin() << target << " answered HTTP " << r->status
                    << (r->status == 401 ? " (give the server's key with --api-key)" : "") << "\n";
        } else {
          body = std::move(r->body);
        }
        client->shutdown();
      },
      planetserve::detail::rethrow_exception{});  // out of io.run(): main reports it, exit 1
  io.run();
  return body;
}

std::string number(double v) {
  if (std::isnan(v)) return "-";
  char buf[64];
  // Counters are whole numbers; print them without a fraction.
  if (v == std::floor(v) && std::abs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string mean(double sum, double count) {
  return count > 0 ? "  (mean " + number(sum / count) + " s)" : "";
}

void print_table(const prom::vllm_snapshot& s) {
  auto row = [](const char* key, const std::string& value, const std::string& note = {}) {
    std::printf("%-24s %s%s\n", key, value.c_str(), note.c_str());
  };
  row("kv_cache_usage", number(s.kv_cache_usage),
      "  (mean over " + std::to_string(s.engines) + (s.engines == 1 ? " engine)" : " engines)"));
  row("prefix_cache_queries", number(s.prefix_cache_queries), "  (tokens)");
  row("prefix_cache_hits", number(s.prefix_cache_hits), "  (tokens)");
  row("prefix_cache_hit_ratio", number(s.prefix_cache_hit_ratio()), "  (cumulative)");
  row("ttft_sum", number(s.ttft_sum), "  (s)");
  row("ttft_count", number(s.ttft_count), mean(s.ttft_sum, s.ttft_count));
  row("tpot_sum", number(s.tpot_sum), "  (s, per-token latency)");
  row("tpot_count", number(s.tpot_count), mean(s.tpot_sum, s.tpot_count));
  row("e2e_sum", number(s.e2e_sum), "  (s)");
  row("e2e_count", number(s.e2e_count), mean(s.e2e_sum, s.e2e_count));
  row("prompt_tokens", number(s.prompt_tokens));
  row("generation_tokens", number(s.generation_tokens));
  row("request_success", number(s.request_success), "  (all finished reasons)");
  row("num_running", number(s.num_running));
  row("num_waiting", number(s.num_waiting));
  row("num_preemptions", number(s.num_preemptions));
  row("block_size", s.block_size ? std::to_string(*s.block_size) : "-");
  row("num_gpu_blocks", s.num_gpu_blocks ? std::to_string(*s.num_gpu_blocks) : "-");
  if (s.legacy_prefix_cache_hit_rate)
    row("legacy_prefix_cache_hit_rate", number(*s.legacy_prefix_cache_hit_rate), "  (V0 gauge)");
  row("names", s.current_names ? (s.legacy_names ? "current and legacy" : "current (vLLM >= 0.9)")
                               : (s.legacy_names ? "legacy (vLLM V0 or < 0.9)" : "none seen"));
}

}  // namespace

int cmd_metrics(int argc, char** argv) {
  cli::po::options_description options("Options");
  std::string source;
  std::string api_key;
  options.add_options()
      ("source", cli::po::value(&source)->required(),
       "URL of a server's /metrics (http:// or https://), a saved page, or - for stdin")
      ("json", "print one JSON object instead of a table")
      ("api-key", cli::po::value(&api_key), "API key sent as a Bearer token when scraping a URL");
  cli::po::positional_options_description positional;
  positional.add("source", 1);
  int code = cli::exit_ok;
  const auto vm = cli::parse(argc, argv,
                             "Usage: pswm metrics URL|FILE [--json] [--api-key K]\n\n"
                             "Reads one vLLM /metrics page and prints what the experiment monitor "
                             "sees:\nKV-cache usage, prefix-cache tokens, TTFT / per-token / "
                             "end-to-end histogram sums\nand counts, token and request counters, "
                             "running and waiting requests.",
                             options, &positional, code);
  if (!vm) return code;
  const bool json = vm->count("json") > 0;

  planetserve::diagnostics diag;
  planetserve::result<prom::vllm_snapshot> snap = prom::vllm_snapshot{};
  if (is_url(source)) {
    const auto body = scrape(source, api_key);
    if (!body) return cli::exit_failure;
    snap = prom::parse_vllm_snapshot(*body, &diag);
  } else {
    if (!api_key.empty())
      std::cerr << "pswm metrics: note: --api-key is only sent when scraping a URL\n";
    if (source == "-") {
      snap = prom::parse_vllm_snapshot(std::cin, &diag);
    } else {
      std::ifstream in(source, std::ios::binary);
      if (!in) {
        std::cerr << "pswm metrics: " << source << ": cannot open the file\n";
        return cli::exit_failure;
      }
      snap = prom::parse_vllm_snapshot(in, &diag);
    }
  }
  const std::string where = source == "-" ? std::string("<stdin>") : source;
  if (!snap) {
    std::cerr << "pswm metrics: " << where << ": "
              << (diag.empty() ? snap.error().message() : diag.message) << "\n";
    return cli::exit_failure;
  }
  if (!snap->has_vllm()) {
    std::cerr << "pswm metrics: " << where
              << ": no vllm: metrics on the page (is it a vLLM server's /metrics?)\n";
    return cli::exit_failure;
  }
  if (json)
    std::cout << prom::to_json(*snap) << "\n";
  else
    print_table(*snap);
  return cli::exit_ok;
}

}  // namespace pswm
