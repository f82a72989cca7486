// SPDX-License-Identifier: MIT
// The whole runner against misbehaving servers on loopback: refused, killed, flaky, errors, cuts, hangs, bad /metrics, TLS, stop, disks, secrets.
#include <planetserve/experiment/atomic_file.hpp>
#include <planetserve/experiment/metrics_page.hpp>
#include <planetserve/experiment/report.hpp>
#include <planetserve/experiment/runner.hpp>
#include <planetserve/http/server.hpp>
#include <planetserve/sim/fleet.hpp>
#include <planetserve/sim/profile.hpp>

#include "unit/http_test_support.hpp"
#include "unit/reliability_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

// GCC 12 reports a false -Wmismatched-new-delete on the coroutine frames of test lambdas
// (the frame's own operator new/delete pair is used; GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

namespace asio = boost::asio;
namespace ps = planetserve;
namespace ex = planetserve::experiment;
namespace sim = planetserve::sim;
namespace http = planetserve::http;
namespace rt = reliability_test;
namespace fs = std::filesystem;
namespace json = boost::json;
using verb = boost::beast::http::verb;
using namespace std::chrono_literals;
constexpr auto tuple_aw = asio::as_tuple(asio::use_awaitable);

// Runs `f` (a callable returning awaitable<void>) on `io` for at most `limit`, then stops
// the io_context whatever is still pending (idle emulator timers, say).
template <class F>
void drive(asio::io_context& io, F f, std::chrono::seconds limit = 20s) {
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(f), [&](std::exception_ptr e) {
    failure = e;
    done = true;
    io.stop();
  });
  io.run_for(limit);
  if (failure) std::rethrow_exception(failure);
  REQUIRE(done);
}

sim::fleet_config instant_fleet(std::size_t nodes) {
  sim::fleet_config fc;
  fc.num_nodes = nodes;
  fc.node = sim::node_config::from_profile(*sim::find_profile("instant"));
  return fc;
}

// What most tests here start from: a fresh folder, an io_context, a started emulated fleet and
// a quick run_config over `prompts` prompts aimed at that fleet, writing under tmp/out. Member
// order matters: the fleet is destroyed before the io_context whose executor it holds.
struct fleet_run {
  rt::temp_dir tmp;
  asio::io_context io;
  sim::fleet fleet;
  ex::run_config cfg;
  std::ostringstream log;

  fleet_run(const std::string& name, const sim::fleet_config& fc, std::size_t prompts)
      : tmp(name), fleet(io.get_executor(), fc) {
    ps::diagnostics diag;
    INFO(diag.message);
    REQUIRE_FALSE(fleet.start(diag));
    cfg = rt::quick_config(rt::write_dataset(tmp.path, prompts), tmp.path / "out");
    cfg.endpoints = fleet.urls();
  }

  std::optional<ex::runner> runner;  // the last pass's
  rt::pass_result pass;              // and its outcome

  // One full pass (prepare, preflight, run) of a new runner over `cfg`.
  ex::runner& full_pass() {
    pass = {};
    runner.emplace(io.get_executor(), cfg, log);
    drive(io, [&]() -> asio::awaitable<void> { co_await rt::full_pass(*runner, pass); });
    return *runner;
  }

  // full_pass() that must run to the end: the first policy's result.
  const ex::policy_result& successful_pass() {
    full_pass();
    INFO(pass.diag << "\n" << log.str());
    REQUIRE_FALSE(pass.prepare);
    REQUIRE_FALSE(pass.preflight);
    REQUIRE_FALSE(pass.run);
    REQUIRE(pass.finished);
    return runner->results().at(0);
  }
};

// A full pass of `r` stopped (as by Ctrl-C) once `f`'s nodes have received `received`
// generation requests between them: on a condition, not after a time, which a loaded machine
// or a sanitizer build could spend on the preflight alone.
void run_stopped_once_received(fleet_run& f, ex::runner& r, rt::pass_result& pr, std::uint64_t received) {
  drive(f.io, [&]() -> asio::awaitable<void> {
    asio::co_spawn(
        f.io,
        [&f, &r, received]() -> asio::awaitable<void> {
          auto total = [&f] {
            std::uint64_t n = 0;
            for (std::size_t k = 0; k < f.fleet.size(); ++k) n += f.fleet.node(k).stats().generation_requests;
            return n;
          };
          while (total() < received) co_await rt::sleep_for(2ms);
          r.request_stop();
        },
        asio::detached);
    co_await rt::full_pass(r, pr);
  });
}

// A full pass of `r` while node `k` of `f`'s fleet is killed once it has served 5 requests
// (not at a fixed time: a loaded machine, or a sanitizer build, may take that long just for
// the preflight) and started again on the same port `down_for` later, as a restarted server
// would be, into `reborn`.
void run_with_restart(fleet_run& f, ex::runner& r, rt::pass_result& pr, std::size_t k,
                      std::chrono::milliseconds down_for, std::optional<sim::node_server>& reborn) {
  const auto port = f.fleet.port(k);
  drive(f.io, [&]() -> asio::awaitable<void> {
    asio::co_spawn(
        f.io,
        [&f, &reborn, k, port, down_for]() -> asio::awaitable<void> {
          while (f.fleet.node(k).stats().completed < 5) co_await rt::sleep_for(5ms);
          f.fleet.node(k).stop();
          co_await rt::sleep_for(down_for);
          reborn.emplace(f.io.get_executor(), f.fleet.node(k).config());
          ps::diagnostics d;
          auto p = reborn->listen("127.0.0.1", port, d);
          if (!p) throw std::runtime_error("restart failed: " + d.message);
        },
        asio::detached);
    co_await rt::full_pass(r, pr);
  });
}

// A port on loopback where nothing listens (bound, then released).
std::uint16_t closed_port(asio::io_context& io) {
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto p = a.local_endpoint().port();
  a.close();
  return p;
}

std::vector<ex::request_record> read_requests_jsonl(const fs::path& file) {
  std::vector<ex::request_record> out;
  for (const auto& line : rt::lines_of(rt::slurp(file))) {
    ps::diagnostics d;
    auto r = ex::parse_record_line(line, d);
    INFO(file.string() << ": " << d.message << "\n" << line);
    REQUIRE(r.has_value());
    out.push_back(*r);
  }
  return out;
}

std::string all_files_text(const fs::path& root) {
  std::string all;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) all += e.path().string() + "\n" + rt::slurp(e.path()) + "\n";
  return all;
}

const std::string fake_model = "fake-model";

// A stand-in vLLM node whose /metrics and generation can be made to misbehave.
struct fake_node {
  enum class metrics_mode { not_found, garbage, no_vllm, slow };
  enum class gen_mode { stream, hang, echo_key_401 };

  fake_node(asio::io_context& io, metrics_mode m, gen_mode g) : srv(io.get_executor()), metrics(m), gen(g) {
    srv.route(verb::get, "/health", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "", "");
    });
    srv.route(verb::get, "/v1/models", [](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      co_await res.async_write_whole(200, "application/json",
                                     "{\"object\":\"list\",\"data\":[{\"id\":\"" + fake_model + "\",\"object\":\"model\"}]}");
    });
    srv.route(verb::get, "/metrics", [this](http::server_request&, http::server_response& res) -> asio::awaitable<void> {
      ++scrapes;
      switch (metrics) {
        case metrics_mode::not_found:
          co_await res.async_write_whole(404, "application/json", "{\"detail\":\"Not Found\"}");
          break;
        case metrics_mode::garbage:
          co_await res.async_write_whole(200, "text/html", "<html><body>\x01\x02 not a metrics page {{{</body></html>");
          break;
        case metrics_mode::no_vllm:
          co_await res.async_write_whole(200, "text/plain", "# TYPE process_open_fds gauge\nprocess_open_fds 6.0\n");
          break;
        case metrics_mode::slow: {
          asio::steady_timer t(co_await asio::this_coro::executor);
          t.expires_after(4s);
          res.on_client_gone([&t] { t.cancel(); });
          co_await t.async_wait(tuple_aw);
          if (!res.client_gone())
            co_await res.async_write_whole(200, "text/plain", "vllm:num_requests_running{model_name=\"fake-model\"} 0.0\n");
          break;
        }
      }
    });
    srv.route(verb::post, "/v1/completions", [this](http::server_request& req, http::server_response& res) -> asio::awaitable<void> {
      ++generations;
      if (gen == gen_mode::hang) {
        // Reads the request, then says nothing at all until the client leaves.
        asio::steady_timer t(co_await asio::this_coro::executor);
        t.expires_after(60s);
        res.on_client_gone([&t] { t.cancel(); });
        co_await t.async_wait(tuple_aw);
        co_return;
      }
      if (gen == gen_mode::echo_key_401) {
        // Some proxies quote the key they refused.
        co_await res.async_write_whole(
            401, "application/json",
            "{\"error\":{\"message\":\"Incorrect API key provided: " + std::string(req.header("Authorization")) +
                "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}");
        co_return;
      }
      const std::string head = "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"" +
                               fake_model + "\",\"choices\":";
      co_await res.async_begin_stream(200, "text/event-stream; charset=utf-8");
      for (int i = 0; i < 3; ++i)
        co_await res.async_write_chunk(head + "[{\"index\":0,\"text\":\"tok\",\"logprobs\":null,\"finish_reason\":null}]}\n\n");
      co_await res.async_write_chunk(head + "[{\"index\":0,\"text\":\"!\",\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n" +
                                     head + "[],\"usage\":{\"prompt_tokens\":9,\"total_tokens\":13,\"completion_tokens\":4}}\n\n"
                                            "data: [DONE]\n\n");
      co_await res.async_end_stream();
    });
    ps::diagnostics d;
    auto p = srv.listen("127.0.0.1", 0, d);
    INFO(d.message);
    REQUIRE(p.has_value());
    url = "http://127.0.0.1:" + std::to_string(*p);
  }

  http::server srv;
  metrics_mode metrics;
  gen_mode gen;
  std::string url;
  int scrapes = 0;
  int generations = 0;
};

// A TLS stand-in: /health, /v1/models and a 404 /metrics, one request per connection.
struct tls_fake_node {
  tls_fake_node(asio::io_context& io, const http_test::cert_pair& cert)
      : ctx(asio::ssl::context::tls_server), acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}) {
    ctx.use_certificate_chain(asio::buffer(cert.cert_pem));
    ctx.use_private_key(asio::buffer(cert.key_pem), asio::ssl::context::pem);
    port = acceptor.local_endpoint().port();
  }

  asio::awaitable<void> serve_one(asio::ip::tcp::socket sock) {
    asio::ssl::stream<asio::ip::tcp::socket> s(std::move(sock), ctx);
    auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::server, tuple_aw);
    if (hec) {
      ++failed_handshakes;
      co_return;
    }
    boost::beast::flat_buffer buf;
    boost::beast::http::request<boost::beast::http::string_body> req;
    auto [rec, n] = co_await boost::beast::http::async_read(s, buf, req, tuple_aw);
    if (rec) co_return;
    std::string body, status = "200 OK";
    if (req.target() == "/v1/models") body = "{\"object\":\"list\",\"data\":[{\"id\":\"" + fake_model + "\"}]}";
    else if (req.target() != "/health") status = "404 Not Found";
    const std::string resp = "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    co_await asio::async_write(s, asio::buffer(resp), tuple_aw);
    co_await s.async_shutdown(tuple_aw);
  }

  asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(tuple_aw);
      if (ec) co_return;
      asio::co_spawn(acceptor.get_executor(), serve_one(std::move(sock)), asio::detached);
    }
  }

  asio::ssl::context ctx;
  asio::ip::tcp::acceptor acceptor;
  std::uint16_t port = 0;
  int failed_handshakes = 0;
};

}  // namespace

TEST_CASE("reliability: preflight names every unreachable node and its URL, and sends nothing", "[reliability]") {
  fleet_run f("refused", instant_fleet(1), 5);
  const std::string bad1 = "http://127.0.0.1:" + std::to_string(closed_port(f.io));
  const std::string bad2 = "http://127.0.0.1:" + std::to_string(closed_port(f.io));
  f.cfg.endpoints = {f.fleet.urls()[0], bad1, bad2};
  f.full_pass();
  const auto& pr = f.pass;
  REQUIRE_FALSE(pr.prepare);
  CHECK(pr.preflight == ps::error::connection_failed);
  INFO(pr.diag);
  CHECK(pr.diag.find("2 problem(s)") != std::string::npos);
  CHECK(pr.diag.find("node_1 (" + bad1 + "): /health") != std::string::npos);
  CHECK(pr.diag.find("node_2 (" + bad2 + "): /health") != std::string::npos);
  CHECK(pr.diag.find("node_0") == std::string::npos);
  CHECK(pr.diag.find("is the server running") != std::string::npos);
  CHECK(f.fleet.node(0).stats().generation_requests == 0);
  CHECK(rt::dirs_starting(f.tmp.path / "out", "log_").empty());
}

TEST_CASE("reliability: a node not ready at start (/health 503) fails preflight, saying so", "[reliability]") {
  auto fc = instant_fleet(1);
  fc.node.faults.unhealthy_for = 60s;
  fleet_run f("notready", fc, 3);
  f.full_pass();
  const auto& pr = f.pass;
  CHECK(pr.preflight == ps::error::node_not_ready);
  INFO(pr.diag);
  CHECK(pr.diag.find("node_0 (" + f.fleet.urls()[0] + "): /health answered HTTP 503 (the server is not ready)") !=
        std::string::npos);
  CHECK(f.fleet.node(0).stats().generation_requests == 0);
}

TEST_CASE("reliability: preflight's code names the kind of problem; several kinds are preflight_failed", "[reliability]") {
  {
    fleet_run f("wrongmodel", instant_fleet(2), 3);
    f.cfg.model = "no/such-model";
    f.full_pass();
    const auto& pr = f.pass;
    INFO(pr.diag);
    CHECK(pr.preflight == ps::error::model_not_served);
    CHECK(pr.diag.find("2 problem(s)") != std::string::npos);
    CHECK(pr.diag.find("does not serve model 'no/such-model'") != std::string::npos);
  }
  fleet_run f("mixed", instant_fleet(1), 3);
  // An unreachable node and an output folder under a plain file: two kinds.
  f.cfg.endpoints = {f.fleet.urls()[0], "http://127.0.0.1:" + std::to_string(closed_port(f.io))};
  std::ofstream(f.tmp.path / "plain") << "x";
  f.cfg.output_dir = f.tmp.path / "plain" / "out";
  f.full_pass();
  const auto& pr = f.pass;
  INFO(pr.diag);
  CHECK(pr.preflight == ps::error::preflight_failed);
  CHECK(pr.diag.find("2 problem(s)") != std::string::npos);
  CHECK(pr.diag.find("node_1") != std::string::npos);
}

TEST_CASE("reliability: a node killed mid-run is routed around until /health answers, then used again", "[reliability]") {
  // Every policy must honour availability.
  const std::string policy = GENERATE(as<std::string>{}, "rr", "lb", "least-loaded", "random", "p2c", "cache-aware", "hrt");
  // Without retries the requests that met the dead node fail; with them (the default) they
  // are sent again elsewhere.
  const std::size_t retries = GENERATE(as<std::size_t>{}, 0, 2);
  INFO("policy " << policy << ", max_retries " << retries);
  fleet_run f("killed", instant_fleet(2), 120);
  const auto port1 = f.fleet.port(1);
  f.cfg.average_interval_s = 0.01;  // 1.2 s of sending
  f.cfg.policies = {policy};
  f.cfg.max_retries = retries;
  ex::runner r(f.io.get_executor(), f.cfg, f.log);
  rt::pass_result pr;
  std::optional<sim::node_server> reborn;
  run_with_restart(f, r, pr, 1, 250ms, reborn);
  INFO(pr.diag << "\n" << f.log.str());
  REQUIRE_FALSE(pr.run);
  const auto& recs = r.results().at(0).records;
  REQUIRE(recs.size() == 120);
  CHECK(f.log.str().find("not routing to it until /health answers") != std::string::npos);
  CHECK(f.log.str().find("answers /health again") != std::string::npos);
  if (retries > 0) {
    // Every request that met the dead node before any response byte went again and finished;
    // the one whose failure took the node out says so.
    std::size_t retried = 0, with_reason = 0;
    for (const auto& rec : recs) {
      INFO(rec.error_kind << ": " << rec.error);
      if (!rec.ok) CHECK(rec.http_status != 0);  // only a stream cut after its head may fail
      if (rec.retries > 0) {
        ++retried;
        CHECK(rec.ok);
        if (!rec.node_out_reason.empty()) ++with_reason;
      }
    }
    CHECK(retried >= 1);
    CHECK(with_reason >= 1);
    const auto& s = r.results().at(0).summary;
    CHECK(s.retried_requests == retried);
    CHECK(s.ok + s.failed == 120);
    return;
  }
  // The runner learns the node is down from the first request that got no answer at all
  // (a stream cut after its headers is a failed request, not a dead node).
  double down_at = std::numeric_limits<double>::infinity();
  std::size_t failed_on_1 = 0, ok_on_1_before = 0;
  for (const auto& rec : recs) {
    if (rec.node == 1 && !rec.ok) {
      ++failed_on_1;
      if (rec.http_status == 0) down_at = std::min(down_at, rec.finished_s);
      INFO(rec.error_kind << ": " << rec.error);
      // Not a timeout: a request that reached its handler as the node stopped used to wait
      // for tokens that never came (see "a request inside its handler when the node stops").
      CHECK((rec.error_kind == "connection_failed" || rec.error_kind == "connection_closed"));
      CHECK(rec.error.find("127.0.0.1:" + std::to_string(port1)) != std::string::npos);
    }
    if (rec.node == 0) CHECK(rec.ok);  // the other node never suffers
  }
  REQUIRE(failed_on_1 >= 1);
  REQUIRE(std::isfinite(down_at));
  // Nothing went to node 1 between then and its return; after it, it was used again.
  std::size_t ok_on_1_after = 0;
  for (const auto& rec : recs) {
    if (rec.node != 1) continue;
    if (!rec.ok) CHECK(rec.sent_s <= down_at);
    if (rec.ok && rec.sent_s > down_at) ++ok_on_1_after;
    if (rec.ok && rec.sent_s < down_at) ++ok_on_1_before;
  }
  CHECK(ok_on_1_before > 0);
  // cache-aware keeps a warm prefix on the node that has it while loads are even (they are,
  // with zero-time steps), so a node coming back cold may rightly get nothing.
  if (policy != "cache-aware") CHECK(ok_on_1_after > 0);
  CHECK(reborn->stats().generation_requests == ok_on_1_after);
  CHECK(f.log.str().find("not routing to it until /health answers") != std::string::npos);
  CHECK(f.log.str().find("answers /health again") != std::string::npos);
  const auto& s = r.results().at(0).summary;
  CHECK(s.failed == failed_on_1);
  CHECK(s.ok == 120 - failed_on_1);
  CHECK(read_requests_jsonl(r.results().at(0).layout.log_dir / "requests.jsonl").size() == 120);
}

TEST_CASE("reliability: 4xx, 5xx and 429 answers are recorded with the server's message", "[reliability]") {
  auto fc = instant_fleet(2);
  fc.node.faults.error_rate = 0.6;
  fc.node.faults.error_statuses = {400, 429, 500, 503};
  fc.node.faults.seed = 7;
  fleet_run f("status", fc, 60);
  const auto& res = f.successful_pass();
  INFO(f.log.str());
  std::set<int> statuses;
  std::size_t failed = 0;
  for (const auto& rec : res.records) {
    if (rec.ok) {
      CHECK(rec.http_status == 200);
      continue;
    }
    ++failed;
    statuses.insert(rec.http_status);
    CHECK(rec.error_kind == "http_" + std::to_string(rec.http_status));
    CHECK(rec.error.find("Injected fault: the emulator was told to fail this request.") != std::string::npos);
  }
  CHECK(statuses == std::set<int>{400, 429, 500, 503});
  CHECK(failed == f.fleet.node(0).stats().injected_errors + f.fleet.node(1).stats().injected_errors);
  CHECK(res.summary.failed == failed);
  CHECK(res.summary.failures.count("http_429") == 1);
  // Refusals are answers: the node stays in rotation.
  CHECK(f.log.str().find("not routing") == std::string::npos);
  // The file has the same story.
  const auto jsonl = read_requests_jsonl(res.layout.log_dir / "requests.jsonl");
  REQUIRE(jsonl.size() == res.records.size());
  std::size_t with_message = 0;
  for (const auto& rec : jsonl)
    if (!rec.ok && rec.error.find("Injected fault") != std::string::npos && rec.http_status >= 400) ++with_message;
  CHECK(with_message == failed);
}

TEST_CASE("reliability: a stream cut mid-way is a failure that keeps its partial tokens", "[reliability]") {
  auto fc = instant_fleet(1);
  fc.node.faults.close_rate = 1.0;
  fc.node.faults.close_after_chunks = 3;
  fleet_run f("cut", fc, 10);
  f.cfg.max_new_tokens = 12;
  const auto& res = f.successful_pass();
  INFO(f.log.str());
  REQUIRE(res.records.size() == 10);
  for (const auto& rec : res.records) {
    INFO(rec.error);
    CHECK_FALSE(rec.ok);
    CHECK(rec.http_status == 200);
    CHECK((rec.error_kind == "connection_closed" || rec.error_kind == "stream_incomplete"));
    CHECK(rec.chunk_s.size() == 3);
    CHECK(rec.completion_tokens == 3);
    CHECK(std::isfinite(rec.first_token_s));
  }
  CHECK(f.fleet.node(0).stats().injected_closes == 10);
  const auto jsonl = read_requests_jsonl(res.layout.log_dir / "requests.jsonl");
  REQUIRE(jsonl.size() == 10);
  CHECK(jsonl[0].chunk_s.size() == 3);
}

TEST_CASE("reliability: a server that accepts and never answers is ended by the request timeout", "[reliability]") {
  rt::temp_dir tmp("hang");
  asio::io_context io;
  fake_node node(io, fake_node::metrics_mode::not_found, fake_node::gen_mode::hang);
  auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 4), tmp.path / "out");
  cfg.endpoints = {node.url};
  cfg.request_timeout = std::chrono::duration<double>(0.3);
  std::ostringstream log;
  ex::runner r(io.get_executor(), cfg, log);
  rt::pass_result pr;
  drive(io, [&]() -> asio::awaitable<void> {
    co_await rt::full_pass(r, pr);
    node.srv.stop();
  });
  INFO(pr.diag << "\n" << log.str());
  REQUIRE_FALSE(pr.run);
  const auto& res = r.results().at(0);
  REQUIRE(res.records.size() == 4);
  CHECK(node.generations == 4);
  for (const auto& rec : res.records) {
    INFO(rec.error);
    CHECK_FALSE(rec.ok);
    CHECK(rec.error_kind == "timeout");
    CHECK(rec.http_status == 0);
    CHECK(rec.e2e_s() >= 0.29);  // not before the timeout
  }
}

TEST_CASE("reliability: /metrics 404, garbage or without vLLM metrics leaves gaps and one warning per node", "[reliability]") {
  rt::temp_dir tmp("metrics");
  asio::io_context io;
  fake_node n404(io, fake_node::metrics_mode::not_found, fake_node::gen_mode::stream);
  fake_node ngarbage(io, fake_node::metrics_mode::garbage, fake_node::gen_mode::stream);
  fake_node nnone(io, fake_node::metrics_mode::no_vllm, fake_node::gen_mode::stream);
  auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 30), tmp.path / "out");
  cfg.endpoints = {n404.url, ngarbage.url, nnone.url};
  cfg.average_interval_s = 0.02;
  std::ostringstream log;
  ex::runner r(io.get_executor(), cfg, log);
  rt::pass_result pr;
  drive(io, [&]() -> asio::awaitable<void> {
    co_await rt::full_pass(r, pr);
    n404.srv.stop();
    ngarbage.srv.stop();
    nnone.srv.stop();
  });
  const std::string text = log.str();
  INFO(pr.diag << "\n" << text);
  REQUIRE_FALSE(pr.run);
  const auto& res = r.results().at(0);
  CHECK(res.summary.ok == 30);
  REQUIRE(res.timelines.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    INFO("node " << k);
    CHECK(res.timelines[k].samples.empty());
    CHECK(res.timelines[k].failed_scrapes >= 2);
    CHECK(rt::count_of(text, "warning: node_" + std::to_string(k) + " (") == 1);
  }
  CHECK(n404.scrapes >= 3);
  CHECK(res.timelines[0].first_failure.find("404") != std::string::npos);
  CHECK(res.timelines[2].first_failure.find("no vLLM metrics") != std::string::npos);
  // The server-side numbers are missing, not zero.
  CHECK(std::isnan(res.summary.kv_cache_usage_mean));
  CHECK(fs::exists(res.layout.log_dir / "timeline.json"));
}

TEST_CASE("reliability: a /metrics slower than the probe timeout gives gaps, and the run still ends", "[reliability]") {
  rt::temp_dir tmp("slowmetrics");
  asio::io_context io;
  fake_node slow(io, fake_node::metrics_mode::slow, fake_node::gen_mode::stream);
  auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 5), tmp.path / "out");
  cfg.endpoints = {slow.url};
  std::ostringstream log;
  ex::runner r(io.get_executor(), cfg, log);
  rt::pass_result pr;
  drive(io, [&]() -> asio::awaitable<void> {
    co_await rt::full_pass(r, pr);
    slow.srv.stop();
  }, 30s);
  const std::string text = log.str();
  INFO(pr.diag << "\n" << text);
  REQUIRE_FALSE(pr.run);
  const auto& res = r.results().at(0);
  CHECK(res.summary.ok == 5);
  CHECK(res.timelines.at(0).samples.empty());
  CHECK(res.timelines.at(0).failed_scrapes >= 1);
  CHECK(rt::count_of(text, "warning: node_0 (") == 1);
}

TEST_CASE("reliability: a TLS certificate for another host fails preflight clearly unless insecure", "[reliability]") {
  const auto cert = http_test::make_self_signed("DNS:other.example");
  rt::temp_dir tmp("tls");
  const auto ca = tmp.path / "ca.pem";
  std::ofstream(ca) << cert.cert_pem;
  asio::io_context io;
  tls_fake_node node(io, cert);
  const std::string url = "https://127.0.0.1:" + std::to_string(node.port);
  auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 3), tmp.path / "out");
  cfg.endpoints = {url};
  cfg.ca_file = ca.string();
  std::ostringstream log;
  ex::runner strict(io.get_executor(), cfg, log);
  cfg.insecure = true;
  ex::runner lax(io.get_executor(), cfg, log);
  boost::system::error_code strict_ec, lax_ec;
  std::string strict_diag, lax_diag;
  drive(io, [&]() -> asio::awaitable<void> {
    asio::co_spawn(io, node.serve(), asio::detached);
    ps::diagnostics d1, d2;
    REQUIRE_FALSE(strict.prepare(d1));
    strict_ec = co_await strict.async_preflight(d1);
    strict_diag = d1.message;
    REQUIRE_FALSE(lax.prepare(d2));
    lax_ec = co_await lax.async_preflight(d2);
    lax_diag = d2.message;
    node.acceptor.close();
  });
  INFO(strict_diag);
  CHECK(strict_ec);
  CHECK(strict_diag.find("node_0 (" + url + "): /health") != std::string::npos);
  CHECK(strict_diag.find("mismatch") != std::string::npos);
  CHECK(node.failed_handshakes >= 1);
  INFO(lax_diag);
  CHECK_FALSE(lax_ec);
  CHECK(lax.model() == fake_model);
}

TEST_CASE("reliability: stop mid-run drains in flight, writes everything, marks the summary interrupted", "[reliability]") {
  const bool abandon = GENERATE(false, true);
  auto fc = instant_fleet(2);
  // Every request takes a while, so some are in flight when the stop comes.
  fc.node.faults.added_delay = abandon ? 3000ms : 200ms;
  fleet_run f("stop", fc, 200);
  f.cfg.average_interval_s = 0.02;
  f.cfg.drain_timeout = std::chrono::duration<double>(abandon ? 0.2 : 5.0);
  ex::runner r(f.io.get_executor(), f.cfg, f.log);
  rt::pass_result pr;
  run_stopped_once_received(f, r, pr, 10);
  INFO(pr.diag << "\n" << f.log.str());
  REQUIRE_FALSE(pr.run);
  CHECK(r.stop_requested());
  const auto& res = r.results().at(0);
  CHECK(res.summary.interrupted);
  CHECK(res.records.size() > 5);
  CHECK(res.records.size() < 200);
  std::size_t interrupted = 0;
  for (const auto& rec : res.records) {
    if (abandon) {
      CHECK_FALSE(rec.ok);
      CHECK(rec.error_kind == "interrupted");
      ++interrupted;
    } else {
      CHECK(rec.ok);  // the drain let every request in flight finish
    }
  }
  if (abandon) CHECK(f.log.str().find("drain timeout: abandoning") != std::string::npos);
  CHECK(f.log.str().find("stopping: no more requests sent") != std::string::npos);
  const auto jsonl = read_requests_jsonl(res.layout.log_dir / "requests.jsonl");
  CHECK(jsonl.size() == res.records.size());
  const std::string summary = rt::slurp(res.layout.log_dir / "summary.json");
  CHECK(summary.find("\"interrupted\":true") != std::string::npos);
  for (const char* file : {"run.json", "timeline.json", "experiment_results.json", "throughput_records.json"})
    CHECK(fs::exists(res.layout.log_dir / file));
  // No temporary file was left behind.
  for (const auto& e : fs::directory_iterator(res.layout.log_dir))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("reliability: a stop after the last send still bounds the wait by the drain timeout", "[reliability]") {
  auto fc = instant_fleet(1);
  fc.node.faults.added_delay = 3000ms;
  fleet_run f("stoplate", fc, 10);
  f.cfg.average_interval_s = 0.001;  // everything sent within a few ms
  f.cfg.drain_timeout = std::chrono::duration<double>(0.2);
  ex::runner r(f.io.get_executor(), f.cfg, f.log);
  rt::pass_result pr;
  run_stopped_once_received(f, r, pr, 10);
  INFO(pr.diag << "\n" << f.log.str());
  REQUIRE_FALSE(pr.run);
  const auto& res = r.results().at(0);
  REQUIRE(res.records.size() == 10);  // all were sent before the stop
  CHECK(res.summary.interrupted);
  for (const auto& rec : res.records) CHECK(rec.error_kind == "interrupted");  // cut at the drain timeout
  CHECK(f.log.str().find("drain timeout: abandoning 10 request(s)") != std::string::npos);
}

TEST_CASE("reliability: running the same configuration twice keeps both runs' results", "[reliability]") {
  fleet_run f("twice", instant_fleet(1), 6);
  ex::runner first(f.io.get_executor(), f.cfg, f.log);
  ex::runner second(f.io.get_executor(), f.cfg, f.log);
  rt::pass_result p1, p2;
  drive(f.io, [&]() -> asio::awaitable<void> {
    co_await rt::full_pass(first, p1);
    co_await rt::full_pass(second, p2);
  });
  INFO(p1.diag << p2.diag << "\n" << f.log.str());
  REQUIRE_FALSE(p1.run);
  REQUIRE_FALSE(p2.run);
  const auto logs = rt::dirs_starting(f.tmp.path / "out", "log_tiny_");
  const auto figs = rt::dirs_starting(f.tmp.path / "out", "fig_tiny_");
  CHECK(logs.size() == 2);
  CHECK(figs.size() == 2);
  for (const auto& d : logs) CHECK(read_requests_jsonl(d / "requests.jsonl").size() == 6);
  CHECK(f.log.str().find("kept earlier results: moved") != std::string::npos);
}

TEST_CASE("reliability: an output folder that cannot be made fails preflight before any request", "[reliability]") {
  fleet_run f("unwritable", instant_fleet(1), 3);
  // Root ignores permission bits, so the folder is put where no folder can be: under a file.
  const auto blocker = f.tmp.path / "not_a_folder";
  std::ofstream(blocker) << "x";
  f.cfg.output_dir = blocker / "out";
  f.full_pass();
  const auto& pr = f.pass;
  CHECK(pr.preflight);
  INFO(pr.diag);
  CHECK(pr.diag.find("cannot create folder " + (blocker / "out").string()) != std::string::npos);
  CHECK(f.fleet.node(0).stats().generation_requests == 0);
}

TEST_CASE("reliability: a full disk is reported at the write, naming the file", "[reliability]") {
  if (!fs::exists("/dev/full")) {
    WARN("no /dev/full here: skipped");
    return;
  }
  ps::diagnostics diag;
  ex::line_log log;
  REQUIRE_FALSE(log.open("/dev/full", diag));
  CHECK(log.append("{\"query_id\":0}", diag) == ps::error::file_unwritable);
  CHECK(diag.message.find("/dev/full") != std::string::npos);
  CHECK(diag.message.find("disk full") != std::string::npos);
}

TEST_CASE("reliability: the API key appears in no output file, log line or error", "[reliability]") {
  const std::string marker = "sk-MARKER-123";
  auto fc = instant_fleet(2);
  fc.node.api_key = marker;
  fc.node.faults.error_rate = 0.3;  // some error texts too
  fleet_run f("secret", fc, 20);
  fake_node echo(f.io, fake_node::metrics_mode::not_found, fake_node::gen_mode::echo_key_401);

  f.cfg.api_key = marker;
  f.cfg.policies = {"rr", "lb"};
  ex::runner good(f.io.get_executor(), f.cfg, f.log);

  // The wrong key: the server refuses it, and the refusal must not repeat it.
  auto wrong_cfg = f.cfg;
  wrong_cfg.api_key = "sk-MARKER-WRONG-456";
  wrong_cfg.output_dir = f.tmp.path / "out_wrong";
  ex::runner wrong(f.io.get_executor(), wrong_cfg, f.log);

  // A server that quotes the key back in its 401 body.
  auto echo_cfg = f.cfg;
  echo_cfg.endpoints = {echo.url};
  echo_cfg.policies = {"rr"};
  echo_cfg.output_dir = f.tmp.path / "out_echo";
  ex::runner echoed(f.io.get_executor(), echo_cfg, f.log);

  rt::pass_result pg, pw, pe;
  drive(f.io, [&]() -> asio::awaitable<void> {
    co_await rt::full_pass(good, pg);
    co_await rt::full_pass(wrong, pw);
    co_await rt::full_pass(echoed, pe);
    echo.srv.stop();
  });
  INFO(pg.diag << "\n" << pw.diag << "\n" << pe.diag);
  REQUIRE_FALSE(pg.run);
  CHECK(good.results().size() == 2);
  CHECK(pw.preflight);
  CHECK(pw.diag.find("401") != std::string::npos);
  REQUIRE_FALSE(pe.run);
  const auto& echoed_recs = echoed.results().at(0).records;
  REQUIRE_FALSE(echoed_recs.empty());
  CHECK(echoed_recs[0].http_status == 401);
  CHECK(echoed_recs[0].error.find("Incorrect API key provided") != std::string::npos);

  const std::string files = all_files_text(f.tmp.path);
  CHECK(files.find("<redacted>") != std::string::npos);  // run.json says a key was used
  for (const std::string& text : {files, f.log.str(), pg.diag, pw.diag, pe.diag}) {
    CHECK(text.find("MARKER") == std::string::npos);
  }
  for (const auto& rec : echoed_recs) CHECK(rec.error.find("MARKER") == std::string::npos);
}

TEST_CASE("reliability: an emulated node enforces its body limit, malformed requests and stalled clients", "[reliability]") {
  asio::io_context io;
  auto nc = sim::node_config::from_profile(*sim::find_profile("instant"));
  nc.http.max_body_size = 1000;
  nc.http.read_timeout = 200ms;
  sim::node_server node(io.get_executor(), nc);
  ps::diagnostics diag;
  auto port = node.listen("127.0.0.1", 0, diag);
  REQUIRE(port.has_value());
  std::string big_reply, bad_reply, stalled_reply;
  // Arguments by reference to named strings: GCC 12 mishandles temporaries passed by value to coroutines.
  auto exchange = [&](const std::string& bytes, std::string& out) -> asio::awaitable<void> {
    asio::ip::tcp::socket s(io);
    co_await s.async_connect({asio::ip::make_address("127.0.0.1"), *port}, asio::use_awaitable);
    co_await asio::async_write(s, asio::buffer(bytes), asio::use_awaitable);
    char buf[4096];
    for (;;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), tuple_aw);
      out.append(buf, n);
      if (ec) break;
    }
  };
  drive(io, [&]() -> asio::awaitable<void> {
    const std::string body(5000, 'x');
    const std::string big = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
    const std::string bad = "GARBAGE\r\n\r\n";
    const std::string stalled = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro";
    co_await exchange(big, big_reply);
    co_await exchange(bad, bad_reply);
    co_await exchange(stalled, stalled_reply);
    node.stop();
  });
  CHECK(big_reply.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(bad_reply.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(stalled_reply.find("HTTP/1.1 200") == std::string::npos);  // cut off, never served
  CHECK(node.stats().generation_requests == 0);
  CHECK(node.http_stats().bad_requests == 3);
}

TEST_CASE("reliability: a bad dataset line stops prepare naming file:line, or is skipped and counted", "[reliability]") {
  const fs::path data = fs::path(PLANETSERVE_TEST_DATA_DIR) / "reliability" / "two_bad_lines.jsonl";
  rt::temp_dir tmp("dataset");
  asio::io_context io;
  auto cfg = rt::quick_config(data, tmp.path / "out");
  cfg.endpoints = {"http://127.0.0.1:1"};
  std::ostringstream log;
  {
    ex::runner r(io.get_executor(), cfg, log);
    ps::diagnostics diag;
    CHECK(r.prepare(diag));
    INFO(diag.message);
    CHECK(diag.message.find(data.string() + ":2") != std::string::npos);
  }
  cfg.dataset.skip_bad_lines = true;
  ex::runner r(io.get_executor(), cfg, log);
  ps::diagnostics diag;
  REQUIRE_FALSE(r.prepare(diag));
  CHECK(r.request_count() == 2);
  CHECK(log.str().find("skipped 2 bad line(s) of " + data.string()) != std::string::npos);
}

TEST_CASE("reliability: a key that is part of the mask text is redacted without looping", "[reliability]") {
  rt::temp_dir tmp("shortkey");
  asio::io_context io;
  fake_node echo(io, fake_node::metrics_mode::not_found, fake_node::gen_mode::echo_key_401);
  auto cfg = rt::quick_config(rt::write_dataset(tmp.path, 2), tmp.path / "out");
  cfg.endpoints = {echo.url};
  cfg.api_key = "dact";  // inside "<redacted>": a naive replace loop would never end
  std::ostringstream log;
  ex::runner r(io.get_executor(), cfg, log);
  rt::pass_result pr;
  drive(io, [&]() -> asio::awaitable<void> {
    co_await rt::full_pass(r, pr);
    echo.srv.stop();
  });
  REQUIRE_FALSE(pr.run);
  const auto& recs = r.results().at(0).records;
  REQUIRE(recs.size() == 2);
  INFO(recs[0].error);
  CHECK(recs[0].error.find("Bearer <redacted>") != std::string::npos);
  CHECK(recs[0].error.find("Bearer dact") == std::string::npos);
}

TEST_CASE("reliability: --max-connections caps requests at a node; the rest wait their turn, in order", "[reliability]") {
  auto fc = instant_fleet(1);
  fc.node.faults.added_delay = 40ms;  // every request holds its connection for 40 ms
  fleet_run f("maxconn", fc, 12);
  f.cfg.max_connections_per_node = 2;
  f.cfg.average_interval_s = 0.001;  // all 12 due within ~12 ms
  const auto& recs = f.successful_pass().records;
  INFO(f.log.str());
  REQUIRE(recs.size() == 12);
  std::vector<std::pair<double, int>> edges;
  for (const auto& rec : recs) {
    CHECK(rec.ok);
    edges.emplace_back(rec.sent_s, 1);
    edges.emplace_back(rec.finished_s, -1);
  }
  // Never more than two at the node at once (ends sort before starts at equal times).
  std::sort(edges.begin(), edges.end());
  int open = 0, most = 0;
  for (const auto& [t, d] : edges) most = std::max(most, open += d);
  CHECK(most == 2);
  // The waiting ones went in arrival order, and their wait shows as send lag.
  std::vector<const ex::request_record*> by_query;
  for (const auto& rec : recs) by_query.push_back(&rec);
  std::sort(by_query.begin(), by_query.end(), [](auto* a, auto* b) { return a->query_id < b->query_id; });
  for (std::size_t i = 1; i < by_query.size(); ++i) CHECK(by_query[i]->sent_s >= by_query[i - 1]->sent_s);
  CHECK(by_query.back()->send_lag_s() > 0.1);  // 12 requests, 2 at a time, 40 ms each
}

TEST_CASE("reliability: a stop leaves requests still waiting for a connection unsent and recorded", "[reliability]") {
  auto fc = instant_fleet(1);
  fc.node.faults.added_delay = 300ms;
  fleet_run f("maxconnstop", fc, 10);
  f.cfg.max_connections_per_node = 1;
  f.cfg.average_interval_s = 0.001;
  ex::runner r(f.io.get_executor(), f.cfg, f.log);
  rt::pass_result pr;
  run_stopped_once_received(f, r, pr, 1);
  INFO(pr.diag << "\n" << f.log.str());
  REQUIRE_FALSE(pr.run);
  const auto& res = r.results().at(0);
  std::size_t ok = 0, unsent = 0;
  for (const auto& rec : res.records) {
    if (rec.ok) ++ok;
    if (rec.error.find("not sent") != std::string::npos) {
      ++unsent;
      CHECK(rec.error_kind == "interrupted");
    }
  }
  // The one at the node finishes within the drain timeout; every other sent one waited.
  CHECK(ok == 1);
  CHECK(unsent == res.records.size() - 1);
  CHECK(res.summary.interrupted);
  CHECK(f.fleet.node(0).stats().generation_requests == 1);
}

// ---- transient failures: retries, the breaker, waiting for a node ------------------------

namespace {

// A second, single-node emulated fleet with faults of its own, beside a fleet_run's.
struct extra_node {
  sim::fleet fleet;
  extra_node(asio::io_context& io, const sim::fault_config& faults) : fleet(io.get_executor(), with(faults)) {
    ps::diagnostics d;
    INFO(d.message);
    REQUIRE_FALSE(fleet.start(d));
  }
  static sim::fleet_config with(const sim::fault_config& faults) {
    auto fc = instant_fleet(1);
    fc.node.faults = faults;
    return fc;
  }
  std::string url() const { return fleet.urls().at(0); }
};

std::size_t count_kind(const std::vector<ex::request_record>& recs, const std::string& kind) {
  return static_cast<std::size_t>(
      std::count_if(recs.begin(), recs.end(), [&](const auto& r) { return r.error_kind == kind; }));
}

}  // namespace

TEST_CASE("reliability: a node that resets one connection in ten but answers /health keeps its share", "[reliability]") {
  const std::size_t retries = GENERATE(as<std::size_t>{}, 0, 2);
  INFO("max_retries " << retries);
  fleet_run f("flaky", instant_fleet(1), 200);
  sim::fault_config faults;
  faults.reset_rate = 0.1;
  faults.seed = 7;
  extra_node flaky(f.io, faults);
  f.cfg.endpoints = {f.fleet.urls()[0], flaky.url()};
  f.cfg.max_retries = retries;
  f.cfg.average_interval_s = 0.005;
  const auto& res = f.successful_pass();
  INFO(f.log.str());
  const auto& recs = res.records;
  const auto& s = res.summary;
  REQUIRE(recs.size() == 200);
  const auto resets = flaky.fleet.node(0).stats().injected_resets;
  REQUIRE(resets >= 3);  // the fault really fired
  // Every request was sent; nothing waited for a node that was never really gone.
  CHECK(count_kind(recs, "no_node_available") == 0);
  CHECK(s.not_sent == 0);
  for (const auto& rec : recs) CHECK(std::isfinite(rec.sent_s));
  // The flaky node keeps (about) its round-robin half.
  CHECK(s.nodes.at(1).share > 0.4);
  if (retries == 0) {
    CHECK(s.failed >= 1);
    CHECK(s.failed <= resets);
    CHECK(s.retries == 0);
  } else {
    CHECK(s.failed == 0);
    CHECK(s.retried_requests >= 1);
    CHECK(s.retries <= resets);  // the client's own stale-connection resend absorbs some
    for (const auto& rec : recs)
      if (rec.retries > 0) CHECK(rec.ok);
  }
  // requests.jsonl carries the count.
  std::size_t from_file = 0;
  for (const auto& rec : read_requests_jsonl(res.layout.log_dir / "requests.jsonl")) from_file += rec.retries;
  CHECK(from_file == s.retries);
}

TEST_CASE("reliability: consecutive connection failures open a node's breaker; its requests finish elsewhere", "[reliability]") {
  fleet_run f("breaker", instant_fleet(1), 100);
  sim::fault_config faults;
  faults.reset_rate = 1.0;  // every request reset, while /health answers 200
  extra_node dead(f.io, faults);
  f.cfg.endpoints = {f.fleet.urls()[0], dead.url()};
  f.cfg.breaker_failures = 3;
  f.cfg.health_interval = std::chrono::duration<double>(0.2);
  const auto& res = f.successful_pass();
  INFO(f.log.str());
  const auto& recs = res.records;
  const auto& s = res.summary;
  CHECK(s.ok == 100);
  CHECK(s.failed == 0);
  CHECK(f.log.str().find("3 consecutive connection failures") != std::string::npos);
  std::size_t reasons = 0;
  for (const auto& rec : recs) {
    CHECK(rec.node == 0);  // where every request ended up
    if (rec.node_out_reason.find("consecutive connection failures") != std::string::npos) ++reasons;
  }
  CHECK(reasons >= 1);
  CHECK(s.retried_requests >= 3);
  // Out most of the time: half-open probes cost one request each, not a round-robin half.
  CHECK(dead.fleet.node(0).stats().injected_resets < 60);
}

TEST_CASE("reliability: while every node is out, due requests wait for one to return (their send lag shows it)", "[reliability]") {
  const bool wait = GENERATE(true, false);
  INFO("wait " << wait);
  fleet_run f("allout", instant_fleet(1), 60);
  f.cfg.no_node_wait = std::chrono::duration<double>(wait ? 10.0 : 0.0);
  ex::runner r(f.io.get_executor(), f.cfg, f.log);
  rt::pass_result pr;
  std::optional<sim::node_server> reborn;
  run_with_restart(f, r, pr, 0, 300ms, reborn);
  INFO(pr.diag << "\n" << f.log.str());
  REQUIRE_FALSE(pr.run);
  const auto& recs = r.results().at(0).records;
  const auto& s = r.results().at(0).summary;
  REQUIRE(recs.size() == 60);
  const auto unsent = count_kind(recs, "no_node_available");
  if (wait) {
    CHECK(unsent == 0);
    CHECK(s.failed == 0);
    CHECK(s.send_lag_max_s > 0.2);  // they waited for the node's return
    CHECK(reborn->stats().generation_requests >= 10);
  } else {
    CHECK(unsent >= 5);
    CHECK(s.not_sent == unsent);
    for (const auto& rec : recs) {
      if (rec.error_kind != "no_node_available") continue;
      CHECK(std::isnan(rec.sent_s));  // never sent: no send time, no send lag
      CHECK(rec.node_out_reason.find("node_0") != std::string::npos);
    }
    // Send lag and the mean gap cover requests sent, not the ones recorded as never sent.
    CHECK(s.send_lag_max_s < 0.25);
  }
}

TEST_CASE("reliability: two endpoints naming one server are refused unless allowed", "[reliability]") {
  fleet_run f("dup", instant_fleet(1), 5);
  const auto port = std::to_string(f.fleet.port(0));
  f.cfg.endpoints = {"http://127.0.0.1:" + port, "http://localhost:" + port + "/"};
  {
    ex::runner r(f.io.get_executor(), f.cfg, f.log);
    ps::diagnostics d;
    CHECK(r.prepare(d) == ps::error::invalid_argument);
    INFO(d.message);
    CHECK(d.message.find("are the same server") != std::string::npos);
    CHECK(d.message.find("--allow-duplicate-endpoints") != std::string::npos);
  }
  f.cfg.allow_duplicate_endpoints = true;
  ex::runner r(f.io.get_executor(), f.cfg, f.log);
  ps::diagnostics d;
  CHECK_FALSE(r.prepare(d));
  // Different ports are different servers.
  f.cfg.allow_duplicate_endpoints = false;
  f.cfg.endpoints = {"http://127.0.0.1:" + port, "http://127.0.0.1:1"};
  f.io.restart();
  ex::runner r2(f.io.get_executor(), f.cfg, f.log);
  CHECK_FALSE(r2.prepare(d));
}

TEST_CASE("reliability: durations past the clock's range are refused before anything runs", "[reliability]") {
  fleet_run f("durations", instant_fleet(1), 5);
  f.cfg.request_timeout = std::chrono::duration<double>(1e300);  // to_ms() of it would be undefined
  {
    ex::runner r(f.io.get_executor(), f.cfg, f.log);
    ps::diagnostics d;
    CHECK(r.prepare(d) == ps::error::invalid_argument);
    CHECK(d.message.find("run_config::request_timeout") == 0);
  }
  f.cfg.request_timeout = std::chrono::duration<double>(60);
  f.cfg.retry_backoff = std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN());
  {
    ex::runner r(f.io.get_executor(), f.cfg, f.log);
    ps::diagnostics d;
    CHECK(r.prepare(d) == ps::error::invalid_argument);
    CHECK(d.message.find("run_config::retry_backoff") == 0);
  }
  f.cfg.retry_backoff = std::chrono::duration<double>(0.05);
  ex::runner r(f.io.get_executor(), f.cfg, f.log);
  ps::diagnostics d;
  CHECK_FALSE(r.prepare(d));
}

TEST_CASE("reliability: a URL with a password is refused without showing the password", "[reliability]") {
  fleet_run f("userinfo", instant_fleet(1), 5);
  f.cfg.endpoints = {"http://admin:s3cr3t-PW@127.0.0.1:" + std::to_string(f.fleet.port(0))};
  ex::runner r(f.io.get_executor(), f.cfg, f.log);
  ps::diagnostics d;
  CHECK(r.prepare(d) == ps::error::invalid_argument);
  INFO(d.message);
  CHECK(d.message.find("user info") != std::string::npos);
  CHECK(d.message.find("s3cr3t") == std::string::npos);
  CHECK(d.message.find("admin") == std::string::npos);
  CHECK(d.message.find("127.0.0.1") != std::string::npos);  // still says which URL
}

TEST_CASE("reliability: a run reads the dataset only as far as --maxq needs", "[reliability]") {
  rt::temp_dir tmp("lazy");
  const auto file = tmp.path / "big.jsonl";
  {
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 5; ++i) out << "{\"workload\": \"prompt " << i << "\"}\n";
    out << "this line is not JSON\n";
    for (int i = 0; i < 40'000; ++i) out << "more lines that are not JSON either, 2 MB of them\n";
    out << std::string(1u << 20, '\0');  // and a binary tail, far past the first read block
  }
  ps::workload::dataset_config dc;
  dc.max_prompts = 5;
  ps::diagnostics d;
  auto ds = ps::workload::read_dataset(file, dc, d);
  INFO(d.message);
  REQUIRE(ds.has_value());
  CHECK(ds->prompts.size() == 5);
  CHECK(ds->prompts.back().text == "prompt 4");
  // Read whole, the same file fails at its bad line, naming it.
  dc.max_prompts = 0;
  auto all = ps::workload::read_dataset(file, dc, d);
  CHECK(all.error() == ps::error::invalid_json);
  CHECK(d.message.find("big.jsonl:6") != std::string::npos);
  // The runner passes --maxq down.
  auto cfg = rt::quick_config(file, tmp.path / "out");
  cfg.endpoints = {"http://127.0.0.1:1"};
  cfg.maxq = 5;
  asio::io_context io;
  std::ostringstream log;
  ex::runner r(io.get_executor(), cfg, log);
  ps::diagnostics rd;
  INFO(rd.message);
  CHECK_FALSE(r.prepare(rd));
  CHECK(r.request_count() == 5);
}

TEST_CASE("reliability: a huge /metrics page is parsed in slices that let other work run", "[reliability]") {
  // A valid vLLM page of ~3 MB: the real families, then many series of one more family.
  std::string page =
      "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"m\"} 3.0\n"
      "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{model_name=\"m\"} 0.25\n"
      "# TYPE http_requests_total counter\n";
  for (int i = 0; page.size() < (3u << 20); ++i)
    page += "http_requests_total{handler=\"/h" + std::to_string(i) + "\",method=\"GET\"} " + std::to_string(i) + ".0\n";
  asio::io_context io;
  std::size_t ticks = 0;
  bool parsed = false;
  ps::result<ps::prom::vllm_snapshot> snap = ps::error::invalid_argument;
  // A ticker that re-posts itself: it runs once between any two slices of the parse.
  std::function<void()> tick = [&] {
    if (parsed) return;
    ++ticks;
    asio::post(io, tick);
  };
  asio::post(io, tick);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        ps::diagnostics d;
        snap = co_await ex::async_parse_vllm_page(io.get_executor(), page, d);
        parsed = true;
      },
      asio::detached);
  io.run();
  REQUIRE(snap.has_value());
  CHECK(snap->num_running == 3);
  CHECK(snap->kv_cache_usage == 0.25);
  const std::size_t slices = (page.size() + ex::metrics_page_slice - 1) / ex::metrics_page_slice;
  CHECK(ticks >= slices - 1);
  // The sliced parse agrees with the one-shot parser.
  auto whole = ps::prom::parse_vllm_snapshot(page);
  REQUIRE(whole.has_value());
  CHECK(whole->num_running == snap->num_running);
  CHECK(whole->vllm_samples == snap->vllm_samples);
}

// ---- the run's own policies, and exceptions inside tasks ---------------------------------

namespace {

// Always the last node; throws from on_finished() once `throw_after` requests have ended.
class last_node_policy final : public ps::dispatch::policy {
 public:
  last_node_policy(const ps::dispatch::policy_config& c, std::size_t throw_after)
      : policy(c, false), throw_after_(throw_after) {}
  std::string_view name() const noexcept override { return "last-node"; }

 protected:
  ps::dispatch::decision do_choose(const ps::dispatch::request_view&, const ps::dispatch::fleet_view&) override {
    return make_decision(static_cast<ps::dispatch::node_index>(nodes() - 1), ps::dispatch::rule::custom);
  }
  void do_finished(ps::dispatch::node_index, const ps::dispatch::outcome&) override {
    if (++finished_ == throw_after_) throw std::logic_error("last-node: a bug in a user's policy");
  }

 private:
  std::size_t throw_after_;
  std::size_t finished_ = 0;
};

}  // namespace

TEST_CASE("reliability: a policy of the run's own runs beside the built-in ones; unknown names fail prepare", "[reliability]") {
  fleet_run f("custom", instant_fleet(3), 30);
  f.cfg.custom_policies["last-node"] = [](const ps::dispatch::policy_config& c) {
    return std::make_unique<last_node_policy>(c, 0);
  };
  {
    f.cfg.policies = {"rr", "no-such-policy"};
    ex::runner r(f.io.get_executor(), f.cfg, f.log);
    ps::diagnostics d;
    CHECK(r.prepare(d) == ps::error::invalid_argument);
    INFO(d.message);
    CHECK(d.message.find("no-such-policy") != std::string::npos);
    CHECK(d.message.find("last-node") != std::string::npos);  // listed among the known names
  }
  f.cfg.policies = {"rr", "last-node"};
  f.successful_pass();
  INFO(f.log.str());
  const auto& r = *f.runner;
  REQUIRE(r.results().size() == 2);
  CHECK(r.results()[0].summary.nodes.at(0).requests == 10);  // rr: a third each
  const auto& mine = r.results()[1];
  CHECK(mine.summary.ok == 30);
  CHECK(mine.summary.nodes.at(2).requests == 30);
  for (const auto& rec : mine.records) CHECK(rec.rule == "custom");
}

TEST_CASE("reliability: an exception inside a request's task stops the run with an error instead of hanging", "[reliability]") {
  fleet_run f("throw", instant_fleet(2), 200);
  f.cfg.custom_policies["last-node"] = [](const ps::dispatch::policy_config& c) {
    return std::make_unique<last_node_policy>(c, 5);
  };
  f.cfg.policies = {"last-node"};
  auto& r = f.full_pass();
  const auto& pr = f.pass;
  INFO(pr.diag << "\n" << f.log.str());
  REQUIRE(pr.finished);
  CHECK(pr.run == ps::error::internal_error);
  CHECK(pr.diag.find("a bug in a user's policy") != std::string::npos);
  CHECK(f.log.str().find("internal error") != std::string::npos);
  // Stopped early, and what finished before is written.
  const auto& res = r.results().at(0);
  CHECK(res.summary.interrupted);
  CHECK(res.records.size() < 200);
  CHECK(read_requests_jsonl(res.layout.log_dir / "requests.jsonl").size() >= 4);
}

namespace {

// What a policy of one's own saw, kept outside it (a run makes a new policy per run).
struct seen_by_policy {
  std::uint64_t seed = 0;
  std::map<std::uint64_t, std::size_t> dispatched_tokens;  // request id -> tokens at on_dispatched
  std::map<std::uint64_t, ps::dispatch::outcome> finished;  // request id -> outcome
};

// Sends request i to node i % nodes under a rule of its own name, and writes down what it saw.
class by_id_policy final : public ps::dispatch::policy {
 public:
  by_id_policy(const ps::dispatch::policy_config& c, seen_by_policy& seen) : policy(c, false), seen_(seen) {
    seen_.seed = c.seed;
  }
  std::string_view name() const noexcept override { return "by-id"; }

 protected:
  ps::dispatch::decision do_choose(const ps::dispatch::request_view& req, const ps::dispatch::fleet_view&) override {
    return make_decision(static_cast<ps::dispatch::node_index>(req.id % nodes()), "id-modulo");
  }
  void do_dispatched(ps::dispatch::node_index, const ps::dispatch::request_view& req) override {
    seen_.dispatched_tokens[req.id] = req.tokens.size();
  }
  void do_finished(ps::dispatch::node_index, const ps::dispatch::outcome& o) override { seen_.finished[o.request_id] = o; }

 private:
  seen_by_policy& seen_;
};

}  // namespace

TEST_CASE("open runner: in-memory prompts, the run's seed, the request id and routed tokens in outcomes, a custom rule's name", "[reliability]") {
  fleet_run f("open", instant_fleet(3), 1);
  // Prompts of different lengths, so a mixed-up id would show as a wrong token count.
  for (std::size_t i = 0; i < 12; ++i)
    f.cfg.prompts.push_back(ps::workload::prompt{.text = std::string(20 + 37 * i, 'a' + static_cast<char>(i % 26)) + " question"});
  f.cfg.dataset_file.clear();  // only the in-memory prompts
  f.cfg.seed = 4242;
  f.cfg.policy.seed = 0;       // the run's seed must reach the policy without the caller copying it
  seen_by_policy seen;
  f.cfg.custom_policies["by-id"] = [&seen](const ps::dispatch::policy_config& c) {
    return std::make_unique<by_id_policy>(c, seen);
  };
  f.cfg.policies = {"by-id"};
  f.successful_pass();
  INFO(f.log.str());
  const auto& r = *f.runner;
  REQUIRE(r.results().size() == 1);
  const auto& res = r.results()[0];
  CHECK(res.summary.ok == 12);
  CHECK(seen.seed == 4242);
  REQUIRE(seen.finished.size() == 12);
  REQUIRE(seen.dispatched_tokens.size() == 12);
  for (const auto& rec : res.records) {
    CHECK(rec.rule == "id-modulo");
    CHECK(rec.node == rec.query_id % 3);
    const auto& o = seen.finished.at(rec.query_id);
    CHECK(o.request_id == rec.query_id);
    // What on_dispatched saw, not the server's count (which the record keeps).
    CHECK(o.routed_tokens == seen.dispatched_tokens.at(rec.query_id));
    CHECK(o.prompt_tokens == rec.prompt_tokens);
  }
  // Longer prompts, more tokens: the ids were not mixed up.
  CHECK(seen.dispatched_tokens.at(11) > seen.dispatched_tokens.at(0));
  // The outputs are named after the in-memory workload, and run.json says where it came from.
  CHECK(res.layout.log_dir.filename().string().rfind("log_prompts_", 0) == 0);
  CHECK(rt::slurp(res.layout.log_dir / "run.json").find("\"dataset_in_memory\":true") != std::string::npos);
}

TEST_CASE("trace replay: arrivals follow the timestamps times --time-scale, outputs have the trace's lengths", "[reliability][trace]") {
  fleet_run f("trace", instant_fleet(2), 1);
  const fs::path trace = f.tmp.path / "mooncake.jsonl";
  {
    std::ofstream out(trace);
    out << "{\"timestamp\": 1000, \"input_length\": 40, \"output_length\": 7, \"hash_ids\": [1]}\n"
           "{\"timestamp\": 1000, \"input_length\": 70, \"output_length\": 3, \"hash_ids\": [1, 2]}\n"
           "{\"timestamp\": 3000, \"input_length\": 20, \"output_length\": 11, \"hash_ids\": [5]}\n"
           "{\"timestamp\": 5000, \"input_length\": 64, \"output_length\": 1, \"hash_ids\": [1, 2]}\n";
  }
  f.cfg.dataset_file = trace;
  f.cfg.dataset.trace_block_tokens = 32;
  f.cfg.time_scale = 0.05;  // 4 s of trace in 0.2 s
  f.cfg.ignore_eos = false;  // the trace asks for its own lengths whatever the run's setting
  f.cfg.max_new_tokens = 100;
  const auto& res = f.successful_pass();
  INFO(f.log.str());
  REQUIRE(res.records.size() == 4);
  const double want_s[] = {0, 0, 0.1, 0.2};
  const std::uint32_t want_out[] = {7, 3, 11, 1}, want_in[] = {40, 70, 20, 64}, want_ids[] = {1, 2, 1, 2};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& rec = res.records[i];
    CHECK(rec.scheduled_s == Approx(want_s[i]).margin(1e-9));
    CHECK(rec.max_tokens == want_out[i]);
    CHECK(rec.completion_tokens == want_out[i]);  // min_tokens + ignore_eos: exactly the trace's length
    CHECK(rec.trace_input_length == want_in[i]);
    CHECK(rec.trace_hash_ids == want_ids[i]);
    CHECK(rec.dataset_line == i + 1);
  }
  CHECK(res.summary.max_tokens_mean == Approx(5.5));
  CHECK(res.summary.short_outputs == 0);
  const std::string line = rt::slurp(res.layout.log_dir / "requests.jsonl");
  CHECK(line.find("\"trace_input_length\":40,\"trace_hash_ids\":1") != std::string::npos);
  CHECK(rt::slurp(res.layout.log_dir / "run.json").find("\"dataset_format\":\"mooncake\"") != std::string::npos);

  // --arrival given: the arrival process replaces the timestamps.
  fleet_run g("trace-arrival", instant_fleet(2), 1);
  g.cfg.dataset_file = trace;
  g.cfg.dataset.trace_block_tokens = 32;
  g.cfg.trace_arrivals = false;
  g.cfg.average_interval_s = 0.01;
  ex::runner r2(g.io.get_executor(), g.cfg, g.log);
  rt::pass_result pr2;
  drive(g.io, [&]() -> asio::awaitable<void> { co_await rt::full_pass(r2, pr2); });
  INFO(pr2.diag << "\n" << g.log.str());
  REQUIRE_FALSE(pr2.run);
  CHECK(r2.results().at(0).records.at(3).scheduled_s == Approx(0.03).margin(1e-9));
  CHECK(r2.results().at(0).records.at(3).completion_tokens == 1);  // still the trace's length
}

TEST_CASE("reliability: lb's predicted and the server's cached tokens are recorded; without details they stay empty",
          "[reliability][cache-prediction]") {
  for (const bool details : {true, false}) {
    INFO("--enable-prompt-tokens-details " << (details ? "on" : "off"));
    auto fc = instant_fleet(2);
    fc.node.enable_prompt_tokens_details = details;
    fleet_run f(details ? "cached_on" : "cached_off", fc, 40);  // 4 system prompts, each repeated
    f.cfg.policies = {"lb", "rr"};
    ex::runner r(f.io.get_executor(), f.cfg, f.log);
    rt::pass_result pr;
    drive(f.io, [&]() -> asio::awaitable<void> { co_await rt::full_pass(r, pr); }, 60s);
    INFO(pr.diag << "\n" << f.log.str());
    REQUIRE_FALSE(pr.run);
    REQUIRE(r.results().size() == 2);
    const auto& lb = r.results().at(0);
    const auto& rr = r.results().at(1);
    REQUIRE(lb.summary.ok == 40);
    std::size_t predicted_hits = 0, cached_hits = 0;
    for (const auto& rec : lb.records) {
      REQUIRE(rec.predicted_cached_tokens.has_value());  // lb always has a model
      CHECK(*rec.predicted_cached_tokens <= rec.prompt_tokens);
      if (*rec.predicted_cached_tokens > 0) ++predicted_hits;
      CHECK(rec.cached_tokens.has_value() == details);
      if (rec.cached_tokens && *rec.cached_tokens > 0) ++cached_hits;
    }
    for (const auto& rec : rr.records) CHECK_FALSE(rec.predicted_cached_tokens.has_value());
    CHECK(predicted_hits > 0);
    CHECK(std::isnan(rr.summary.prediction.mae_tokens));
    const auto results = json::parse(rt::slurp(lb.layout.log_dir / "experiment_results.json")).as_array();
    const auto summary = json::parse(rt::slurp(lb.layout.log_dir / "summary.json")).as_object();
    const auto& p = summary.at("cache_prediction").as_object();
    if (details) {
      CHECK(cached_hits > 0);
      CHECK(lb.summary.prediction.compared == 40);
      CHECK(lb.summary.prediction.hit_hit > 0);
      CHECK(std::isfinite(lb.summary.prediction.mae_tokens));
      CHECK(p.at("hit_table").is_object());
      CHECK(results.at(5).as_object().at("cached_tokens").is_number());
      CHECK(f.log.str().find("reported no cached tokens") == std::string::npos);
    } else {
      CHECK(lb.summary.prediction.compared == 0);
      CHECK(p.at("mae_tokens").is_null());
      CHECK(p.at("hit_table").is_null());
      for (const auto& x : results) CHECK(x.as_object().at("cached_tokens").is_null());
      // One line per policy's printed summary, not one per request.
      const auto log = f.log.str();
      std::size_t said = 0;
      for (auto at = log.find("reported no cached tokens"); at != std::string::npos;
           at = log.find("reported no cached tokens", at + 1))
        ++said;
      CHECK(said == 2);
    }
    for (const auto& x : results) CHECK(x.as_object().at("predicted_cached_tokens").is_number());
  }
}
