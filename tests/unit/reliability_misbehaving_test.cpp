// SPDX-License-Identifier: MIT
// Misbehaving servers, odd names and full disks against the client, the runner and the report.
#include <planetserve/experiment/atomic_file.hpp>
#include <planetserve/experiment/plot.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/report_rebuild.hpp>
#include <planetserve/experiment/runner.hpp>
#include <planetserve/http/client.hpp>
#include <planetserve/openai/stream_completion.hpp>
#include <planetserve/sim/fleet.hpp>
#include <planetserve/sim/profile.hpp>
#include <planetserve/workload/detail/utf8.hpp>

#include "unit/http_test_support.hpp"
#include "unit/reliability_support.hpp"
#include "unit/scripted_server.hpp"

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <sys/mount.h>

#include <fstream>
#include <functional>
#include <memory>

namespace {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace ex = planetserve::experiment;
namespace sim = planetserve::sim;
namespace http = planetserve::http;
namespace rt = reliability_test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using http_test::run_coro;

bool valid_utf8(std::string_view s) { return ps::workload::detail::find_invalid_utf8(s) == std::string_view::npos; }

http::client make_client(asio::io_context& io, const std::string& url) {
  ps::diagnostics diag;
  auto c = http::client::create(io.get_executor(), url, {}, diag);
  INFO(diag.message);
  REQUIRE(c.has_value());
  return *c;
}

// An error body as a broken server sends it: invalid UTF-8, escape codes, and much of it.
std::shared_ptr<const std::string> hostile_body(std::size_t bytes) {
  std::string chunk = "<html>\x1b[31mERROR\x1b[0m \xff\xfe bad bytes \xC3 caf\xC3\xA9 \x07\n";
  auto out = std::make_shared<std::string>();
  out->reserve(bytes);
  while (out->size() + chunk.size() <= bytes) out->append(chunk);
  out->append(bytes - out->size(), 'x');
  return out;
}

// A JSON error whose message is `bytes` long: a parser keeps all of it unless told not to.
std::shared_ptr<const std::string> hostile_json_body(std::size_t bytes) {
  const std::string unit = "\\u001b[31mout of memory \xC3\xA9 ";
  auto out = std::make_shared<std::string>(R"({"error":{"message":")");
  while (out->size() + unit.size() + 64 < bytes) out->append(unit);
  out->append(R"(","type":"InternalServerError","param":null,"code":500}})");
  return out;
}

const std::string models_json = R"({"object":"list","data":[{"id":"fake-model","object":"model"}]})";

// A vLLM stand-in whose completions fail with `status` and a large hostile body.
scripted::answer failing_node(const scripted::request& req, int status, const std::shared_ptr<const std::string>& body) {
  if (req.target == "/health") return {scripted::http_response(200, "", ""), false, nullptr};
  if (req.target == "/v1/models") return {scripted::http_response(200, "application/json", models_json), false, nullptr};
  if (req.target == "/metrics") return {scripted::http_response(404, "text/plain", "no metrics"), false, nullptr};
  return {scripted::http_head(status, "text/html", body->size()), false, body};
}

// One runner pass over two emulated "instant" nodes, inside run_coro (the fleet is stopped at
// the end); `beside(io)` may start a coroutine that watches the run as it goes.
struct sim_pass {
  rt::pass_result result;
  std::string log;
};

sim_pass run_on_sim(ex::run_config cfg, std::function<void(asio::io_context&)> beside = {}) {
  sim_pass out;
  sim::fleet_config fc;
  fc.num_nodes = 2;
  fc.node = sim::node_config::from_profile(*sim::find_profile("instant"));
  run_coro(
      [&](asio::io_context& io) -> asio::awaitable<void> {
        sim::fleet fleet(io.get_executor(), fc);
        ps::diagnostics diag;
        REQUIRE_FALSE(fleet.start(diag));
        cfg.endpoints = fleet.urls();
        std::ostringstream log;
        ex::runner r(io.get_executor(), cfg, log);
        if (beside) beside(io);
        co_await rt::full_pass(r, out.result);
        out.log = log.str();
        fleet.stop();
      },
      60s);
  return out;
}

fs::path only_dir(const fs::path& root, const std::string& prefix) {
  auto dirs = rt::dirs_starting(root, prefix);
  REQUIRE(dirs.size() == 1);
  return dirs[0];
}

// A tmpfs of `size` mounted on `dir` for the test's lifetime (root only; else mounted() is false).
struct small_tmpfs {
  fs::path dir;
  bool ok = false;
  small_tmpfs(const fs::path& d, const char* size) : dir(d) {
    fs::create_directories(dir);
    const std::string opts = std::string("size=") + size;
    ok = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~small_tmpfs() {
    if (ok) ::umount2(dir.c_str(), MNT_DETACH);
  }
  bool mounted() const { return ok; }
};

}  // namespace

// ---- error bodies: bounded, and the connection not held for them --------------------------

TEST_CASE("misbehaving: a 2 MB error body is kept to 4 KiB and its connection closed, not read", "[reliability][server_text]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    const auto big = hostile_body(2u << 20);
    scripted::server srv(io, [&](const scripted::request&) {
      return scripted::answer{scripted::http_head(500, "text/html", big->size()), false, big};
    });
    auto client = make_client(io, srv.url());
    ps::diagnostics diag;
    auto r = co_await client.async_fetch(http::client_request::get("/boom"), diag);
    REQUIRE(r.has_value());
    CHECK(r->status == 500);
    CHECK(r->body.size() == 4096);
    CHECK(r->body_truncated);
    CHECK(r->body == big->substr(0, 4096));
    CHECK(client.idle_connections() == 0);  // not drained: closed
    r = co_await client.async_fetch(http::client_request::get("/boom"), diag);
    REQUIRE(r.has_value());
    CHECK(srv.connections() == 2);
    client.shutdown();
    srv.close();
  });
}

TEST_CASE("misbehaving: a modest error body is drained so the connection is reused", "[reliability][server_text]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    const auto body = hostile_body(10'000);
    scripted::server srv(io, [&](const scripted::request& req) {
      if (req.target == "/ok") return scripted::answer{scripted::http_response(200, "text/plain", "fine"), false, nullptr};
      return scripted::answer{scripted::http_head(503, "text/html", body->size()), false, body};
    });
    auto client = make_client(io, srv.url());
    ps::diagnostics diag;
    auto r = co_await client.async_fetch(http::client_request::get("/busy"), diag);
    REQUIRE(r.has_value());
    CHECK(r->status == 503);
    CHECK(r->body.size() == 4096);
    CHECK(r->body_truncated);
    r = co_await client.async_fetch(http::client_request::get("/ok"), diag);
    REQUIRE(r.has_value());
    CHECK(r->body == "fine");
    CHECK_FALSE(r->body_truncated);
    CHECK(srv.connections() == 1);
    CHECK(client.stats().reused == 1);
    client.shutdown();
    srv.close();
  });
}

TEST_CASE("misbehaving: a completion's hostile error text is recorded valid, bounded and without escapes", "[reliability][server_text]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    const auto big = hostile_body(2u << 20);
    // A JSON error whose message is huge and full of escape codes, then an HTML page.
    std::string json_msg = R"({"error":{"message":")";
    for (int i = 0; i < 20000; ++i) json_msg += "\\u001b[2J\\u001b[31mwipe \\u00e9";
    json_msg += R"(","type":"\u001b]0;title\u0007Internal"}})";
    int n = 0;
    scripted::server srv(io, [&](const scripted::request&) {
      if (n++ == 0) return scripted::answer{scripted::http_response(500, "application/json", json_msg), false, nullptr};
      return scripted::answer{scripted::http_head(502, "text/html", big->size()), false, big};
    });
    auto client = make_client(io, srv.url());
    for (int i = 0; i < 2; ++i) {
      ps::openai::call c;
      c.body = R"({"model":"m","prompt":"x","stream":true})";
      auto out = co_await ps::openai::async_stream_completion(client, c);
      INFO(out.error_text);
      CHECK_FALSE(out.ok());
      CHECK(out.status == (i == 0 ? 500u : 502u));
      CHECK(valid_utf8(out.error_text));
      CHECK(out.error_text.size() < 600);
      CHECK(out.error_text.find('\x1b') == std::string::npos);
      CHECK(out.error_text.find('\x07') == std::string::npos);
      CHECK(out.error_text.find(i == 0 ? "wipe" : "ERROR") != std::string::npos);
    }
    client.shutdown();
    srv.close();
  });
}

TEST_CASE("misbehaving: 100 failing requests with 2 MB error bodies leave small, valid outputs", "[reliability][server_text]") {
  rt::temp_dir tmp("errbodies");
  const auto big = hostile_json_body(2u << 20);
  rt::pass_result pr;
  std::string log_text;
  const std::size_t rss_before = rt::rss_bytes();
  run_coro(
      [&](asio::io_context& io) -> asio::awaitable<void> {
        scripted::server srv(io, [&](const scripted::request& req) { return failing_node(req, 500, big); });
        auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 100), tmp.path / "out");
        cfg.endpoints = {srv.url()};
        std::ostringstream log;
        ex::runner r(io.get_executor(), cfg, log);
        co_await rt::full_pass(r, pr);
        log_text = log.str();
        srv.close();
      },
      60s);
  const std::size_t rss_after = rt::rss_bytes();
  INFO(pr.diag << "\n" << log_text);
  REQUIRE_FALSE(pr.run);
  const auto log_dir = only_dir(tmp.path / "out", "log_");
  const auto requests = rt::slurp(log_dir / "requests.jsonl");
  const auto lines = rt::lines_of(requests);
  REQUIRE(lines.size() == 100);
  for (const auto& line : lines) {
    ps::diagnostics d;
    auto rec = ex::parse_record_line(line, d);
    INFO(d.message);
    REQUIRE(rec.has_value());
    CHECK(rec->error_kind == "http_500");
    CHECK(rec->error.size() <= 400);
    CHECK(rec->error.find('\x1b') == std::string::npos);
  }
  // 100 × 2 MB of error text went in; a few hundred bytes per record came out.
  CHECK(requests.size() < 100u * 1500);
  const auto results = rt::slurp(log_dir / "experiment_results.json");
  CHECK(valid_utf8(results));
  boost::system::error_code jec;
  (void)boost::json::parse(results, jec);
  CHECK_FALSE(jec);
  CHECK(results.size() < 100u * 4000);
  // Nothing held the bodies: well under the 200 MB they add up to (the server's one copy aside).
  INFO("RSS before " << rss_before << ", after " << rss_after);
  CHECK(rss_after < rss_before + (64u << 20));
}

TEST_CASE("misbehaving: escape codes in a server's model id are not printed raw", "[reliability][server_text]") {
  rt::temp_dir tmp("ansi_model");
  rt::pass_result pr;
  run_coro([&](asio::io_context& io) -> asio::awaitable<void> {
    scripted::server srv(io, [&](const scripted::request& req) {
      if (req.target == "/v1/models")
        return scripted::answer{scripted::http_response(200, "application/json",
                                                        R"({"data":[{"id":"\u001b[2J\u001b[31mevil\u001b]0;x\u0007-model"}]})"),
                                false, nullptr};
      return failing_node(req, 500, std::make_shared<const std::string>("x"));
    });
    auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 3), tmp.path / "out");
    cfg.endpoints = {srv.url()};
    cfg.model = "another-model";
    std::ostringstream log;
    ex::runner r(io.get_executor(), cfg, log);
    co_await rt::full_pass(r, pr);
    srv.close();
  });
  INFO(pr.diag);
  CHECK(pr.preflight);
  CHECK(pr.diag.find("evil-model") != std::string::npos);
  CHECK(pr.diag.find('\x1b') == std::string::npos);
  CHECK(pr.diag.find('\x07') == std::string::npos);
}

TEST_CASE("misbehaving: a finish_reason with escape codes and a kilobyte of text is recorded short and clean", "[reliability][server_text]") {
  rt::temp_dir tmp("finish_reason");
  rt::pass_result pr;
  run_coro([&](asio::io_context& io) -> asio::awaitable<void> {
    const std::string reason = "\\u001b[31m" + std::string(1000, 'r');
    const std::string sse = "data: {\"choices\":[{\"index\":0,\"text\":\"hi\",\"finish_reason\":\"" + reason +
                            "\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n"
                            "data: [DONE]\n\n";
    scripted::server srv(io, [&](const scripted::request& req) {
      if (req.target == "/v1/completions")
        return scripted::answer{scripted::http_response(200, "text/event-stream", sse), false, nullptr};
      return failing_node(req, 500, std::make_shared<const std::string>("x"));
    });
    auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 3), tmp.path / "out");
    cfg.endpoints = {srv.url()};
    std::ostringstream log;
    ex::runner r(io.get_executor(), cfg, log);
    co_await rt::full_pass(r, pr);
    srv.close();
  });
  INFO(pr.diag);
  REQUIRE_FALSE(pr.run);
  const auto lines = rt::lines_of(rt::slurp(only_dir(tmp.path / "out", "log_") / "requests.jsonl"));
  REQUIRE(lines.size() == 3);
  for (const auto& line : lines) {
    ps::diagnostics d;
    auto rec = ex::parse_record_line(line, d);
    REQUIRE(rec.has_value());
    CHECK(rec->ok);
    CHECK(rec->finish_reason.size() <= 64);
    CHECK(rec->finish_reason.starts_with("rrr"));
    CHECK(rec->finish_reason.find('\x1b') == std::string::npos);
  }
}

// ---- 1xx interim responses ---------------------------------------------------------------

TEST_CASE("misbehaving: 100 Continue and 103 Early Hints before the response are skipped; 101 is an error", "[reliability][http_1xx]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    scripted::server srv(io, [](const scripted::request& req) {
      const std::string final_ok = scripted::http_response(200, "text/plain", "final body");
      if (req.target == "/continue") return scripted::answer{"HTTP/1.1 100 Continue\r\n\r\n" + final_ok, false, nullptr};
      if (req.target == "/hints")
        return scripted::answer{"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                                "HTTP/1.1 100 Continue\r\n\r\n" + final_ok, false, nullptr};
      if (req.target == "/switch")
        return scripted::answer{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", true, nullptr};
      return scripted::answer{final_ok, false, nullptr};
    });
    auto client = make_client(io, srv.url());
    ps::diagnostics diag;
    for (const char* target : {"/continue", "/hints", "/continue"}) {
      auto r = co_await client.async_fetch(http::client_request::get(target), diag);
      INFO(target << ": " << diag.message);
      REQUIRE(r.has_value());
      CHECK(r->status == 200);
      CHECK(r->body == "final body");
    }
    CHECK(srv.connections() == 1);  // the connection stays in step across interim heads
    auto sw = co_await client.async_fetch(http::client_request::get("/switch"), diag);
    REQUIRE_FALSE(sw.has_value());
    CHECK(sw.error() == ps::error::malformed_http);
    CHECK(diag.message.find("101") != std::string::npos);
    client.shutdown();
    srv.close();
  });
}

TEST_CASE("misbehaving: a huge header block is header_too_large, broken framing malformed_http", "[reliability][http_1xx]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    scripted::server srv(io, [](const scripted::request& req) {
      if (req.target == "/fat")
        return scripted::answer{"HTTP/1.1 200 OK\r\nX-Pad: " + std::string(200'000, 'p') + "\r\nContent-Length: 0\r\n\r\n",
                                true, nullptr};
      return scripted::answer{"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n", true, nullptr};
    });
    auto client = make_client(io, srv.url());
    ps::diagnostics diag;
    auto fat = co_await client.async_fetch(http::client_request::get("/fat"), diag);
    REQUIRE_FALSE(fat.has_value());
    CHECK(fat.error() == ps::error::header_too_large);
    CHECK(diag.message.find("header block larger than the limit") != std::string::npos);
    diag.clear();
    auto bad = co_await client.async_fetch(http::client_request::get("/bad"), diag);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error() == ps::error::malformed_http);
    CHECK(diag.message.find("malformed HTTP response") != std::string::npos);
    client.shutdown();
    srv.close();
  });
}

TEST_CASE("misbehaving: a streamed completion after 100 Continue is read whole", "[reliability][http_1xx]") {
  run_coro([](asio::io_context& io) -> asio::awaitable<void> {
    const std::string sse =
        "data: {\"choices\":[{\"index\":0,\"text\":\"hi\",\"finish_reason\":null}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"text\":\"!\",\"finish_reason\":\"length\"}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
    scripted::server srv(io, [&](const scripted::request&) {
      return scripted::answer{"HTTP/1.1 100 Continue\r\n\r\n" + scripted::http_response(200, "text/event-stream", sse), false,
                              nullptr};
    });
    auto client = make_client(io, srv.url());
    ps::openai::call c;
    c.body = R"({"model":"m","prompt":"x","stream":true})";
    auto out = co_await ps::openai::async_stream_completion(client, c);
    INFO(out.error_text);
    CHECK(out.ok());
    CHECK(out.status == 200);
    REQUIRE(out.usage);
    CHECK(out.usage->completion_tokens == 2);
    client.shutdown();
    srv.close();
  });
}

// ---- names that gnuplot or a shell would interpret -----------------------------------------

TEST_CASE("misbehaving: backquotes, $, quotes, spaces and non-ASCII in names reach gnuplot as data", "[reliability][gnuplot]") {
  const auto gnuplot = ex::find_gnuplot();
  if (gnuplot.empty()) WARN("gnuplot not installed: the scripts are checked, no PNG rendered");
  rt::temp_dir tmp("gp_names");
  // Names that run `touch pswm_pwned*` if anything expands them (gnuplot's backquotes, a shell's $()).
  const std::string ds_name = "ds `touch pswm_pwned1` $(touch pswm_pwned2) $HOME 'q\" \xC3\xA9\xE2\x82\xAC";
  const fs::path data_dir = tmp.path / "in `touch pswm_pwned3` 'x\"";
  fs::create_directories(data_dir);
  const auto dataset = rt::write_dataset(data_dir, 6, ds_name);
  const fs::path out_dir = tmp.path / "out `touch pswm_pwned4` $(touch pswm_pwned5) 'y\" \xC3\xBC\xE2\x9C\x93";
  auto cfg = rt::quick_config(dataset, out_dir);
  cfg.render_figures = true;
  const auto cwd = fs::current_path();
  fs::current_path(tmp.path);  // where a relative `touch` from gnuplot's old working folder would land
  auto pass = run_on_sim(cfg);
  fs::current_path(cwd);
  INFO(pass.result.diag << "\n" << pass.log);
  REQUIRE_FALSE(pass.result.run);
  // Nothing ran: no marker file anywhere under the test folder.
  for (const auto& e : fs::recursive_directory_iterator(tmp.path))
    CHECK(e.path().filename().string().find("pswm_pwned") != 0);
  const auto fig_dir = only_dir(out_dir, "fig_");
  std::size_t scripts = 0, pngs = 0;
  for (const auto& e : fs::directory_iterator(fig_dir)) {
    if (e.path().extension() == ".gp") {
      ++scripts;
      const auto text = rt::slurp(e.path());
      CHECK(text.find("pswm_pwned") == std::string::npos);  // no path or name in the script at all
      CHECK(text.find(out_dir.string()) == std::string::npos);
    }
    if (e.path().extension() == ".png") ++pngs;
  }
  CHECK(scripts > 3);
  if (!gnuplot.empty()) CHECK(pngs == scripts);
  // The dataset's name still labels the outputs, as the user wrote it.
  CHECK(fs::exists(only_dir(out_dir, "log_") / (ex::dataset_label(dataset) + "_summary.txt")));
}

TEST_CASE("misbehaving: chart texts are single-quoted gnuplot strings, quotes doubled, lines joined", "[reliability][gnuplot]") {
  ex::chart c{.name = "t", .title = "a `cmd` $x \"dq\" it's\nnext", .x_label = "x", .y_label = "y"};
  c.series.push_back({"s'1", {{0, 1}, {1, 2}}, ex::plot_style::lines});
  const auto s = ex::gnuplot_script(c, "t.png");
  CHECK(s.find("set title 'a `cmd` $x \"dq\" it''s next' noenhanced") != std::string::npos);
  CHECK(s.find("title 's''1'") != std::string::npos);
  CHECK(s.find("set output 't.png'") != std::string::npos);
  CHECK(s.find("\"a `") == std::string::npos);
}

// ---- pswm report never replaces a good summary with a worse one ---------------------------

TEST_CASE("misbehaving: report refuses to rebuild a finished run from unreadable lines, naming them", "[reliability][report]") {
  rt::temp_dir tmp("report_bad");
  auto pass = run_on_sim(rt::quick_config(rt::write_dataset(tmp.path, 8), tmp.path / "out"));
  INFO(pass.result.diag << "\n" << pass.log);
  REQUIRE_FALSE(pass.result.run);
  const auto log_dir = only_dir(tmp.path / "out", "log_");
  auto lines = rt::lines_of(rt::slurp(log_dir / "requests.jsonl"));
  REQUIRE(lines.size() == 8);
  // Line 3 gets a raw invalid byte inside a string; the last line is cut short (no newline).
  const auto at = lines[2].find("\"rule\":\"");
  REQUIRE(at != std::string::npos);
  lines[2].insert(at + 8, "\xff\xfe");
  {
    std::ofstream out(log_dir / "requests.jsonl", std::ios::binary | std::ios::trunc);
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) out << lines[i] << '\n';
    out << lines.back().substr(0, lines.back().size() / 2);
  }
  const auto summary_before = rt::slurp(log_dir / "summary.json");
  const auto results_before = rt::slurp(log_dir / "experiment_results.json");
  std::ostringstream log;
  ps::diagnostics diag;
  ex::rebuild_options o;
  o.log_dir = log_dir;
  o.render_figures = false;
  auto r = ex::rebuild_report(o, log, diag);
  INFO(diag.message);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == ps::error::invalid_json);
  CHECK(diag.message.find((log_dir / "requests.jsonl").string()) != std::string::npos);
  CHECK(diag.message.find("line(s) 3, 8 ") != std::string::npos);
  CHECK(rt::slurp(log_dir / "summary.json") == summary_before);
  CHECK(rt::slurp(log_dir / "experiment_results.json") == results_before);

  // Without the run's own summary (a killed run) the readable lines are rebuilt and the rest named.
  fs::remove(log_dir / "summary.json");
  diag.clear();
  r = ex::rebuild_report(o, log, diag);
  INFO(diag.message << "\n" << log.str());
  REQUIRE(r.has_value());
  CHECK(r->skipped_lines == std::vector<std::size_t>{3, 8});
  CHECK(log.str().find("line(s) 3, 8 cannot be read") != std::string::npos);
  CHECK(r->text.find("6 / 0") != std::string::npos);  // 6 ok of the 6 readable records
  REQUIRE(fs::exists(log_dir / "summary.json"));
  const auto from_timeline = boost::json::parse(rt::slurp(log_dir / "summary.json")).as_object();

  // Killed before timeline.json too: the scrapes streamed to metrics_timeline.jsonl stand in.
  fs::remove(log_dir / "summary.json");
  fs::remove(log_dir / "timeline.json");
  std::ostringstream log2;
  r = ex::rebuild_report(o, log2, diag);
  INFO(diag.message << "\n" << log2.str());
  REQUIRE(r.has_value());
  CHECK(log2.str().find("read from metrics_timeline.jsonl") != std::string::npos);
  const auto from_stream = boost::json::parse(rt::slurp(log_dir / "summary.json")).as_object();
  REQUIRE(from_timeline.at("prefix_hit_ratio").is_number());
  CHECK(from_stream.at("prefix_hit_ratio").to_number<double>() ==
        Approx(from_timeline.at("prefix_hit_ratio").to_number<double>()));
  CHECK(from_stream.at("kv_cache_usage_mean").to_number<double>() ==
        Approx(from_timeline.at("kv_cache_usage_mean").to_number<double>()));
}

// ---- full disks ----------------------------------------------------------------------------

TEST_CASE("misbehaving: on a full disk the line log keeps whole lines only and retries the rest", "[reliability][disk_full]") {
  rt::temp_dir tmp("diskfull_log");
  small_tmpfs disk(tmp.path / "mnt", "64k");
  if (!disk.mounted()) {
    WARN("cannot mount a tmpfs here (not root?): skipped");
    return;
  }
  // Fill most of the disk so the log runs out of room part-way through a line.
  {
    std::ofstream filler(disk.dir / "filler", std::ios::binary);
    filler << std::string(40u << 10, 'f');
  }
  ex::line_log log;
  log.flush_interval = 0ms;  // every append is a write: the failure hits mid-stream
  ps::diagnostics diag;
  REQUIRE_FALSE(log.open(disk.dir / "requests.jsonl", diag));
  const auto line = [](int i) { return "{\"query_id\":" + std::to_string(i) + ",\"pad\":\"" + std::string(700, 'p') + "\"}"; };
  int failures = 0;
  for (int i = 0; i < 60; ++i)
    if (log.append(line(i), diag)) ++failures;
  CHECK(failures > 0);
  CHECK(diag.message.find("requests.jsonl") != std::string::npos);
  CHECK(diag.message.find("disk full") != std::string::npos);
  CHECK(log.pending_lines() > 0);
  CHECK(log.written_lines() + log.pending_lines() == 60);
  // Only whole lines are in the file, in order.
  auto text = rt::slurp(disk.dir / "requests.jsonl");
  REQUIRE_FALSE(text.empty());
  CHECK(text.back() == '\n');
  auto got = rt::lines_of(text);
  CHECK(got.size() == log.written_lines());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == line(static_cast<int>(i)));
  // Room again: the kept lines go out on the next flush, and nothing was lost.
  fs::remove(disk.dir / "filler");
  REQUIRE_FALSE(log.flush(diag));
  CHECK(log.pending_lines() == 0);
  REQUIRE_FALSE(log.close(diag));
  got = rt::lines_of(rt::slurp(disk.dir / "requests.jsonl"));
  REQUIRE(got.size() == 60);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == line(static_cast<int>(i)));
}

TEST_CASE("misbehaving: /dev/full takes no partial line and close says how many lines are missing", "[reliability][disk_full]") {
  if (!fs::exists("/dev/full")) {
    WARN("no /dev/full here: skipped");
    return;
  }
  ex::line_log log;
  log.flush_interval = 0ms;
  ps::diagnostics diag;
  REQUIRE_FALSE(log.open("/dev/full", diag));
  CHECK(log.append("{\"query_id\":0}", diag) == ps::error::file_unwritable);
  CHECK(log.append("{\"query_id\":1}", diag) == ps::error::file_unwritable);
  CHECK(diag.message.find("2 line(s) kept in memory to retry") != std::string::npos);
  CHECK(log.pending_lines() == 2);
  CHECK(log.written_lines() == 0);
  CHECK(log.close(diag) == ps::error::file_unwritable);
  CHECK(diag.message.find("/dev/full is missing 2 line(s)") != std::string::npos);
}

TEST_CASE("misbehaving: a run on a full disk still prints its summary and names the files not written", "[reliability][disk_full]") {
  rt::temp_dir tmp("diskfull_run");
  small_tmpfs disk(tmp.path / "mnt", "16k");
  if (!disk.mounted()) {
    WARN("cannot mount a tmpfs here (not root?): skipped");
    return;
  }
  auto pass = run_on_sim(rt::quick_config(rt::write_dataset(tmp.path, 40), disk.dir / "out"));
  INFO(pass.result.diag << "\n" << pass.log);
  CHECK(pass.result.run == ps::error::file_unwritable);
  CHECK(pass.log.find("===== pswm summary") != std::string::npos);
  CHECK(pass.log.find("40 / 0") != std::string::npos);
  CHECK(pass.log.find("Outputs INCOMPLETE") != std::string::npos);
  CHECK(pass.result.diag.find("outputs incomplete") != std::string::npos);
  CHECK(pass.result.diag.find("experiment_results.json") != std::string::npos);
  // What is in requests.jsonl is whole lines, each a readable record.
  const auto log_dir = only_dir(disk.dir / "out", "log_");
  const auto text = rt::slurp(log_dir / "requests.jsonl");
  if (!text.empty()) CHECK(text.back() == '\n');
  for (const auto& line : rt::lines_of(text)) {
    ps::diagnostics d;
    CHECK(ex::parse_record_line(line, d).has_value());
  }
}

// ---- the /metrics timeline is on disk while the run goes -----------------------------------

TEST_CASE("misbehaving: metrics_timeline.jsonl is written scrape by scrape during the run", "[reliability][disk_full]") {
  rt::temp_dir tmp("timeline_stream");
  auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 40), tmp.path / "out");
  cfg.average_interval_s = 0.05;  // a 2 s run
  std::size_t lines_mid_run = 0;
  auto pass = run_on_sim(cfg, [&](asio::io_context& io) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await rt::sleep_for(1200ms);
          for (const auto& d : rt::dirs_starting(tmp.path / "out", "log_"))
            lines_mid_run = rt::lines_of(rt::slurp(d / "metrics_timeline.jsonl")).size();
        },
        asio::detached);
  });
  INFO(pass.result.diag);
  REQUIRE_FALSE(pass.result.run);
  // Two nodes scraped every 50 ms: lines were on disk before the run ended (a kill -9 keeps them).
  CHECK(lines_mid_run >= 10);
  const auto log_dir = only_dir(tmp.path / "out", "log_");
  const auto lines = rt::lines_of(rt::slurp(log_dir / "metrics_timeline.jsonl"));
  CHECK(lines.size() > lines_mid_run);
  std::size_t node1 = 0;
  for (const auto& line : lines) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    REQUIRE_FALSE(ec);
    const auto& o = v.as_object();
    CHECK(o.contains("t_s"));
    CHECK(o.contains("snapshot"));
    if (o.at("node").as_string() == "node_1") ++node1;
  }
  CHECK(node1 > 0);
}
