// SPDX-License-Identifier: MIT
// The built pswm binary: bad flag values named, Ctrl-C once and twice, `pswm sim` on loopback.
//
// The binary is found beside this test executable (<build>/tests/.. /apps/pswm/pswm); when it
// was not built (PLANETSERVE_BUILD_APPS=OFF) these tests say so and pass nothing else.
#include <planetserve/experiment/report.hpp>
#include <planetserve/workload/trace.hpp>

#include "unit/reliability_support.hpp"

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <set>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
namespace rt = reliability_test;
namespace ex = planetserve::experiment;
using namespace std::chrono_literals;

fs::path pswm_binary() {
#ifdef PSWM_BINARY
  // CMake passes the built binary's path (and builds it before the tests).
  if (fs::exists(PSWM_BINARY)) return PSWM_BINARY;
#endif
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const auto p = self.parent_path().parent_path() / "apps" / "pswm" / "pswm";
  return fs::exists(p) ? p : fs::path{};
}

// `const auto name` = the built binary, or the test warns that it was not built and ends.
#define PSWM_BINARY_OR_SKIP(name)                                         \
  const auto name = pswm_binary();                                        \
  if (name.empty()) {                                                     \
    WARN("pswm binary not found beside the test executable: skipped");    \
    return;                                                               \
  }

// A child process with stdout and stderr going to files.
struct child {
  pid_t pid = -1;
  fs::path out, err;
  int status = -1;

  child(const fs::path& exe, const std::vector<std::string>& args, const fs::path& dir, const std::string& tag)
      : out(dir / (tag + ".out")), err(dir / (tag + ".err")) {
    std::vector<std::string> argv_s{exe.string()};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    pid = ::fork();
    if (pid == 0) {
      const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }

  // Waits up to `limit`; kills the child (by its pid) if it is still running then.
  bool wait(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) return true;
      std::this_thread::sleep_for(20ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return false;
  }

  int exit_code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
  std::string stdout_text() const { return rt::slurp(out); }
  std::string stderr_text() const { return rt::slurp(err); }

  ~child() {
    if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
  }
};

// Polls `pred` every 50 ms for up to `limit`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

fs::path find_requests_jsonl(const fs::path& out_dir) {
  if (!fs::exists(out_dir)) return {};
  for (const auto& d : rt::dirs_starting(out_dir, "log_"))
    if (fs::exists(d / "requests.jsonl")) return d / "requests.jsonl";
  return {};
}

std::size_t line_count(const fs::path& p) {
  if (p.empty()) return 0;
  return rt::lines_of(rt::slurp(p)).size();
}

// Flags a command must refuse (exit 2) with a message containing `must_say`.
struct bad_flags {
  std::vector<std::string> args;
  std::string must_say;
};

// Runs `command` followed by each case's flags, in `dir`.
void expect_refused(const fs::path& exe, const fs::path& dir, const std::vector<std::string>& command,
                    const std::vector<bad_flags>& cases) {
  int i = 0;
  for (const auto& c : cases) {
    std::vector<std::string> args = command;
    args.insert(args.end(), c.args.begin(), c.args.end());
    child p(exe, args, dir, "case" + std::to_string(i++));
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    INFO("pswm " << joined);
    REQUIRE(p.wait(10s));
    const std::string err = p.stderr_text();
    INFO(err);
    CHECK(p.exit_code() == 2);
    CHECK(err.find(c.must_say) != std::string::npos);
  }
}

// The word `what` printed after `marker` on its stdout, once it has (up to 10 s; "" if never).
std::string printed_after(const child& p, const std::string& marker, const std::string& what = "") {
  std::string word;
  eventually(
      [&] {
        const auto out = p.stdout_text();
        const auto at = out.find(marker);
        if (at == std::string::npos) return false;
        const auto start = at + marker.size();
        const auto end = out.find_first_of(" \n", start);
        if (end == std::string::npos) return false;
        word = out.substr(start, end - start);
        return true;
      },
      10s);
  INFO(what << ": " << p.stdout_text() << p.stderr_text());
  REQUIRE_FALSE(word.empty());
  return word;
}

// `pswm sim` with `nodes` instant nodes on free ports (its own process, so every cache starts
// empty), and their URLs.
struct sim_process {
  std::unique_ptr<child> proc;
  std::vector<std::string> urls;
};

sim_process start_sim(const fs::path& exe, std::size_t nodes, const fs::path& dir, const std::string& tag) {
  sim_process s;
  s.proc = std::make_unique<child>(exe,
                                   std::vector<std::string>{"sim", "--num-nodes", std::to_string(nodes), "--base-port",
                                                            "0", "--profile", "instant", "--enable-prompt-tokens-details"},
                                   dir, tag);
  for (std::size_t k = 0; k < nodes; ++k)
    s.urls.push_back(printed_after(*s.proc, "node " + std::to_string(k) + ": ", "pswm sim"));
  return s;
}

}  // namespace

TEST_CASE("reliability cli: bad flag values are rejected naming the flag", "[reliability][cli]") {
  PSWM_BINARY_OR_SKIP(exe);
  rt::temp_dir tmp("flags");
  const std::vector<bad_flags> cases = {
      {{"--average-interval", "0"}, "--average-interval"},
      {{"--average-interval=-1"}, "--average-interval"},
      {{"--average-interval", "inf"}, "--average-interval"},
      {{"--num-nodes", "0"}, "--num-nodes"},
      {{"--num-nodes=-1"}, "--num-nodes"},
      {{"--num-nodes", "70000"}, "--num-nodes"},
      {{"--base-port", "0"}, "--base-port"},
      {{"--base-port", "70000"}, "--base-port"},
      {{"--base-port=-5"}, "--base-port"},
      {{"--base-port", "65535", "--num-nodes", "2"}, "--base-port"},
      {{"--maxq", "0"}, "--maxq"},
      {{"--maxq=-3"}, "--maxq"},
      {{"--maxq", "lots"}, "--maxq"},
      {{"--epochs", "0"}, "--epochs"},
      {{"--metrics-interval", "0"}, "--metrics-interval"},
      {{"--request-timeout=-1"}, "--request-timeout"},
      {{"--request-timeout", "inf"}, "--request-timeout"},
      {{"--request-timeout", "1e300"}, "--request-timeout"},  // its clock ticks would overflow
      {{"--metrics-interval", "nan"}, "--metrics-interval"},
      {{"--average-interval", "1e20"}, "--average-interval"},
      {{"--drain-timeout=-1"}, "--drain-timeout"},
      {{"--max-new-tokens=-1"}, "--max-new-tokens"},
      {{"--chunk-tokens", "0"}, "--chunk-tokens"},
      {{"--burstiness", "0"}, "--burstiness"},
      {{"--lb-min-match", "1.5"}, "--lb-min-match"},
      {{"--lb-min-match=-0.1"}, "--lb-min-match"},
      {{"--max-connections", "0"}, "--max-connections"},
      {{"--dispatch", "nosuch"}, "--dispatch: unknown policy 'nosuch' (known: "},
      {{"--dispatch", "rr,nosuch"}, "unknown policy 'nosuch'"},
      {{"--arrival", "weibull"}, "--arrival"},
      {{"--api", "grpc"}, "--api"},
      {{"--lb-compat", "exact"}, "--lb-compat"},
      {{"--ignore-eos", "--no-ignore-eos"}, "--ignore-eos"},
      {{"--endpoints", "http://127.0.0.1:1", "--sim"}, "--sim"},
      {{"--request-rate", ""}, "--request-rate '': the list is empty; e.g."},
      {{"--request-rate", "4,2,8"}, "--request-rate '4,2,8': the rates must increase"},
      {{"--average-interval", "0.25,0.5"}, "--average-interval '0.25,0.5': the intervals must decrease"},
      {{"--request-rate", "2", "--average-interval", "0.5"}, "--request-rate and --average-interval exclude"},
      {{"--slo", "p99_latency<=5"}, "--slo 'p99_latency<=5': unknown metric 'p99_latency'"},
      {{"--slo", "p99_ttft_ms=5"}, "needs exactly one <= or >="},
      {{"--slo", "goodput>=1"}, "--slo names goodput: give its bounds too"},
      {{"--slo-tolerance", "0"}, "--slo-tolerance must be a fraction above 0"},
      {{"--goodput", "ttfb:5"}, "unknown key 'ttfb'"},
      {{"--ramp-up-rate", "1:2", "--request-rate", "1,2"}, "--ramp-up-rate excludes"},
      {{"--sim", "--tokenizer", "server"}, "--tokenizer server and --sim"},
      {{"--num-nodes", "2", "--kv-events-endpoints", "tcp://127.0.0.1:1"}, "--kv-events-endpoints: 1 endpoint(s) for 2"},
      {{"--kv-events-replay-endpoints", "tcp://127.0.0.1:1"}, "--kv-events-replay-endpoints needs"},
      {{"--sim", "--kv-events-endpoints", "tcp://127.0.0.1:1"}, "--kv-events-endpoints and --sim"},
      {{"--sim", "--chat-template", "llama3.1"}, "--chat-template and --sim"},
      {{"--tokenizer", "server", "--chat-template", "llama3.1"}, "--chat-template and --tokenizer server"},
      {{"--chat-template", "no/such/tokenizer_config.json"}, "--chat-template: no/such/tokenizer_config.json: no such file"},
  };
  expect_refused(exe, tmp.path, {"run", "--dataset-file", (tmp.path / "none.jsonl").string()}, cases);
  // The unknown-policy message lists the known ones.
  child p(exe, {"run", "--dataset-file", "x.jsonl", "--dispatch", "nosuch"}, tmp.path, "policies");
  REQUIRE(p.wait(10s));
  const std::string err = p.stderr_text();
  CHECK(err.find("rr") != std::string::npos);
  CHECK(err.find("lb") != std::string::npos);
}

TEST_CASE("reliability cli: Ctrl-C drains and marks the run interrupted; a second Ctrl-C exits at once", "[reliability][cli]") {
  PSWM_BINARY_OR_SKIP(exe);
  const bool twice = GENERATE(false, true);
  rt::temp_dir tmp(twice ? "sigint2" : "sigint1");
  const auto dataset = rt::write_dataset(tmp.path, 2000);  // 100 s of sending: still sending at the interrupt
  const auto out_dir = tmp.path / "out";
  // The default profile takes a few seconds per 250-token request, so dozens are in flight
  // and the drain after the first interrupt outlasts the second's delay; the moderate rate
  // keeps a sanitizer build from falling behind.
  child p(exe,
          {"run", "--sim", "--num-nodes", "2", "--base-port", "0", "--dataset-file", dataset.string(), "--maxq",
           "2000", "--average-interval", "0.05", "--max-new-tokens", "250", "--output-dir", out_dir.string(),
           "--no-plots", "--quiet", "--drain-timeout", "60", "--dispatch", "rr"},
          tmp.path, "run");
  INFO(rt::slurp(tmp.path / "run.out") << rt::slurp(tmp.path / "run.err"));
  REQUIRE(eventually([&] { return line_count(find_requests_jsonl(out_dir)) >= 3; }, 60s));
  REQUIRE(::kill(p.pid, SIGINT) == 0);
  if (twice) {
    // Time for the first interrupt to be taken (stdout is a file, so its message is still
    // buffered); the requests in flight need seconds more, so the drain is still going on.
    std::this_thread::sleep_for(1s);
    REQUIRE(::kill(p.pid, SIGINT) == 0);
  }
  REQUIRE(p.wait(twice ? 5s : 60s));
  const std::string out = p.stdout_text(), err = p.stderr_text();
  INFO(out << err);
  CHECK(p.exit_code() == 130);
  const auto jsonl = find_requests_jsonl(out_dir);
  REQUIRE_FALSE(jsonl.empty());
  // Every line whole and readable, whichever way the process ended.
  const auto text = rt::slurp(jsonl);
  CHECK(text.back() == '\n');
  std::size_t lines = 0;
  for (const auto& line : rt::lines_of(text)) {
    planetserve::diagnostics d;
    auto r = ex::parse_record_line(line, d);
    INFO(d.message << "\n" << line);
    CHECK(r.has_value());
    ++lines;
  }
  CHECK(lines >= 3);
  CHECK(lines < 2000);
  const auto summary = jsonl.parent_path() / "summary.json";
  if (twice) {
    CHECK(err.find("second interrupt: exiting now") != std::string::npos);
    CHECK(out.find("stopping: no more requests sent") != std::string::npos);  // flushed before exiting
    CHECK_FALSE(fs::exists(summary));  // exited at once: nothing but what was already written
  } else {
    REQUIRE(fs::exists(summary));
    CHECK(rt::slurp(summary).find("\"interrupted\":true") != std::string::npos);
  }
}

TEST_CASE("reliability cli: pswm sim binds loopback unless --host says otherwise", "[reliability][cli]") {
  PSWM_BINARY_OR_SKIP(exe);
  rt::temp_dir tmp("simhost");
  child p(exe, {"sim", "--num-nodes", "1", "--base-port", "0", "--profile", "instant"}, tmp.path, "sim");
  std::string port;
  REQUIRE(eventually(
      [&] {
        const auto out = p.stdout_text();
        const auto at = out.find("node 0: http://");
        if (at == std::string::npos) return false;
        const auto colon = out.find(':', at + 15);
        const auto end = out.find_first_not_of("0123456789", colon + 1);
        if (colon == std::string::npos || end == std::string::npos) return false;
        port = out.substr(colon + 1, end - colon - 1);
        CHECK(out.substr(at + 15, colon - at - 15) == "127.0.0.1");
        return true;
      },
      10s));
  // The kernel's own table: a listening socket on 127.0.0.1 (0100007F), none on any address.
  char hex_port[8];
  std::snprintf(hex_port, sizeof hex_port, "%04X", static_cast<unsigned>(std::stoul(port)));
  const std::string table = rt::slurp("/proc/net/tcp") + rt::slurp("/proc/net/tcp6");
  bool loopback = false, any = false;
  for (const auto& line : rt::lines_of(table)) {
    if (line.find(std::string(":") + hex_port + " ") == std::string::npos || line.find(" 0A ") == std::string::npos)
      continue;
    if (line.find("0100007F:" + std::string(hex_port)) != std::string::npos) loopback = true;
    if (line.find("00000000:" + std::string(hex_port)) != std::string::npos ||
        line.find("00000000000000000000000000000000:" + std::string(hex_port)) != std::string::npos)
      any = true;
  }
  CHECK(loopback);
  CHECK_FALSE(any);
  REQUIRE(::kill(p.pid, SIGTERM) == 0);
  REQUIRE(p.wait(10s));
  CHECK(p.exit_code() == 0);
}

TEST_CASE("reliability cli: pswm run --api-key leaves the key in no output, file or message", "[reliability][cli]") {
  PSWM_BINARY_OR_SKIP(exe);
  const std::string marker = "sk-MARKER-CLI-789";
  rt::temp_dir tmp("clikey");
  const auto dataset = rt::write_dataset(tmp.path, 12);
  const auto out_dir = tmp.path / "out";
  child p(exe,
          {"run", "--sim", "--sim-profile", "instant", "--num-nodes", "2", "--base-port", "0", "--dataset-file",
           dataset.string(), "--maxq", "12", "--average-interval", "0.01", "--max-new-tokens", "8", "--output-dir",
           out_dir.string(), "--no-plots", "--dispatch", "rr,lb", "--api-key", marker},
          tmp.path, "run");
  REQUIRE(p.wait(30s));
  const std::string out = p.stdout_text(), err = p.stderr_text();
  INFO(out << err);
  CHECK(p.exit_code() == 0);
  CHECK(out.find("compare") != std::string::npos);  // it really ran both policies
  std::string files;
  for (const auto& e : fs::recursive_directory_iterator(out_dir))
    if (e.is_regular_file()) files += rt::slurp(e.path());
  CHECK(files.find("<redacted>") != std::string::npos);
  CHECK(files.find("MARKER") == std::string::npos);
  CHECK(out.find("MARKER") == std::string::npos);
  CHECK(err.find("MARKER") == std::string::npos);
}

TEST_CASE("reliability cli: SIGHUP stops a run like SIGTERM, into an output folder with an odd name", "[reliability][cli]") {
  PSWM_BINARY_OR_SKIP(exe);
  rt::temp_dir tmp("sighup");
  const auto dataset = rt::write_dataset(tmp.path, 2000);  // 20 s of sending: still sending at the signal
  // Spaces, quotes, a backquote, a dollar and non-ASCII: a folder name is data, never code.
  const auto out_dir = tmp.path / "out dir 'q' \"d\" `b` $x \xc3\xa9";
  child p(exe,
          {"run", "--sim", "--sim-profile", "instant", "--num-nodes", "2", "--base-port", "0", "--dataset-file",
           dataset.string(), "--maxq", "2000", "--average-interval", "0.01", "--max-new-tokens", "8",
           "--output-dir", out_dir.string(), "--no-plots", "--quiet", "--dispatch", "rr"},
          tmp.path, "run");
  INFO(rt::slurp(tmp.path / "run.out") << rt::slurp(tmp.path / "run.err"));
  REQUIRE(eventually([&] { return line_count(find_requests_jsonl(out_dir)) >= 3; }, 60s));
  REQUIRE(::kill(p.pid, SIGHUP) == 0);
  REQUIRE(p.wait(30s));
  const std::string out = p.stdout_text();
  CHECK(p.exit_code() == 130);
  CHECK(out.find("pswm summary") != std::string::npos);  // the summary was printed
  const auto jsonl = find_requests_jsonl(out_dir);
  REQUIRE_FALSE(jsonl.empty());
  const auto summary = jsonl.parent_path() / "summary.json";
  REQUIRE(fs::exists(summary));
  CHECK(rt::slurp(summary).find("\"interrupted\":true") != std::string::npos);
}

TEST_CASE("reliability cli: --host ::1 makes bracketed URLs", "[reliability][cli]") {
  PSWM_BINARY_OR_SKIP(exe);
  rt::temp_dir tmp("ipv6");
  const auto dataset = rt::write_dataset(tmp.path, 3);
  // Nothing listens there: the preflight's message shows the URL pswm made of --host.
  child p(exe,
          {"run", "--host", "::1", "--base-port", "9", "--num-nodes", "1", "--dataset-file", dataset.string(),
           "--output-dir", (tmp.path / "out").string(), "--no-plots", "--quiet"},
          tmp.path, "run");
  REQUIRE(p.wait(30s));
  const std::string err = p.stderr_text();
  INFO(err);
  CHECK(p.exit_code() == 1);
  CHECK(err.find("http://[::1]:9") != std::string::npos);
  CHECK(err.find("bad URL") == std::string::npos);
}

TEST_CASE("reliability cli: pswm decide replays the seed's recorded lb choices", "[reliability][cli][seed]") {
  PSWM_BINARY_OR_SKIP(exe);
  rt::temp_dir tmp("decide");
  const auto fixture = (fs::path(PLANETSERVE_TEST_DATA_DIR) / "dispatch" / "lb_decisions_mixed.jsonl").string();
  child seed(exe, {"decide", "--fixture", fixture, "--lb-compat", "seed", "--check"}, tmp.path, "seed");
  REQUIRE(seed.wait(30s));
  INFO(seed.stderr_text());
  CHECK(seed.exit_code() == 0);
  const auto lines = rt::lines_of(seed.stdout_text());
  REQUIRE(lines.size() == 120);
  CHECK(lines.front().rfind("{\"index\":0,\"node\":0,", 0) == 0);
  CHECK(seed.stderr_text().find("120 of 120 choices equal seed_choice") != std::string::npos);
  // pswm's own lb departs from the seed somewhere: --check says so with exit 1.
  child pswm(exe, {"decide", "--fixture", fixture, "--check"}, tmp.path, "pswm");
  REQUIRE(pswm.wait(30s));
  CHECK(pswm.exit_code() == 1);
  CHECK(rt::lines_of(pswm.stdout_text()).size() == 120);
}

TEST_CASE("reliability cli: pswm report exits non-zero naming unreadable lines, and keeps a finished summary", "[reliability][cli][report]") {
  PSWM_BINARY_OR_SKIP(exe);
  rt::temp_dir tmp("report_cli");
  const auto out_dir = tmp.path / "out";
  child run(exe,
            {"run", "--sim", "--sim-profile", "instant", "--num-nodes", "1", "--base-port", "0", "--dataset-file",
             rt::write_dataset(tmp.path, 5).string(), "--average-interval", "0.01", "--max-new-tokens", "4",
             "--output-dir", out_dir.string(), "--no-plots", "--quiet", "--dispatch", "rr"},
            tmp.path, "run");
  REQUIRE(run.wait(60s));
  INFO(run.stdout_text() << run.stderr_text());
  REQUIRE(run.exit_code() == 0);
  const auto jsonl = find_requests_jsonl(out_dir);
  REQUIRE_FALSE(jsonl.empty());
  const auto log_dir = jsonl.parent_path();
  // A line with bytes that are not UTF-8.
  auto text = rt::slurp(jsonl);
  const auto second = text.find('\n') + 1;
  text.insert(text.find("\"rule\":\"", second) + 8, "\xc3\x28");
  std::ofstream(jsonl, std::ios::binary | std::ios::trunc) << text;
  const auto summary = rt::slurp(log_dir / "summary.json");

  child refused(exe, {"report", log_dir.string(), "--no-plots"}, tmp.path, "report1");
  REQUIRE(refused.wait(30s));
  INFO(refused.stdout_text() << refused.stderr_text());
  CHECK(refused.exit_code() == 1);
  CHECK(refused.stderr_text().find(jsonl.string() + ": line(s) 2 cannot be read") != std::string::npos);
  CHECK(rt::slurp(log_dir / "summary.json") == summary);

  fs::remove(log_dir / "summary.json");  // as after a kill: nothing good to replace
  child partial(exe, {"report", log_dir.string(), "--no-plots"}, tmp.path, "report2");
  REQUIRE(partial.wait(30s));
  INFO(partial.stdout_text() << partial.stderr_text());
  CHECK(partial.exit_code() == 3);
  CHECK(partial.stdout_text().find("4 / 0") != std::string::npos);
  CHECK(partial.stderr_text().find("outputs incomplete") != std::string::npos);
  CHECK(fs::exists(log_dir / "summary.json"));
}

TEST_CASE("reliability cli: pswm gen --kind mooncake writes a trace that --stats and the trace reader read back", "[reliability][cli][trace]") {
  PSWM_BINARY_OR_SKIP(exe);
  rt::temp_dir tmp("gen-trace");
  child gen(exe, {"gen", "--kind", "mooncake", "--count", "50", "--rate", "10", "--groups", "5", "--seed", "9", "--out", (tmp.path / "t.jsonl").string()},
            tmp.path, "gen");
  REQUIRE(gen.wait(30s));
  INFO(gen.stderr_text());
  REQUIRE(gen.exit_code() == 0);
  planetserve::diagnostics diag;
  auto t = planetserve::workload::read_trace(tmp.path / "t.jsonl", {}, diag);
  INFO(diag.message);
  REQUIRE(t.has_value());
  CHECK(t->requests.size() == 50);
  child stats(exe, {"gen", "--stats", (tmp.path / "t.jsonl").string(), "--json"}, tmp.path, "stats");
  REQUIRE(stats.wait(30s));
  INFO(stats.stderr_text());
  REQUIRE(stats.exit_code() == 0);
  const auto j = boost::json::parse(stats.stdout_text()).as_object();
  CHECK(j.at("requests").to_number<double>() == 50);
  CHECK(j.at("format").as_string() == "mooncake trace");
  CHECK(j.at("reuse_ceiling").to_number<double>() > 0.1);  // five families after one shared first block
  // A bad value names its flag.
  child bad(exe, {"gen", "--kind", "mooncake", "--count", "5", "--rate", "0", "--out", (tmp.path / "x.jsonl").string()}, tmp.path, "bad");
  REQUIRE(bad.wait(30s));
  CHECK(bad.exit_code() != 0);
  CHECK(bad.stderr_text().find("--rate") != std::string::npos);
}

TEST_CASE("reliability cli: pswm run against real servers predicts their cached tokens exactly with --chat-template or --tokenizer server", "[reliability][cli][prediction]") {
  PSWM_BINARY_OR_SKIP(exe);
  rt::temp_dir tmp("clitemplate");
  const fs::path dataset = fs::path(PLANETSERVE_SOURCE_DIR) / "datasets" / "mixed.jsonl";
  // One run of lb on fresh nodes (a `pswm sim` of their own, so every cache starts empty);
  // one request at a time, so what a node holds when a request arrives is decided. Returns
  // the summary's cache_prediction.
  int tag = 0;
  auto run = [&](const std::vector<std::string>& routing) {
    const std::string id = std::to_string(tag++);
    auto sim = start_sim(exe, 2, tmp.path, "sim" + id);
    const auto& urls = sim.urls;
    const auto out_dir = tmp.path / ("out" + id);
    std::vector<std::string> args{"run", "--endpoints", urls[0] + "," + urls[1], "--dataset-file", dataset.string(),
                                  "--maxq", "30", "--average-interval", "0.01", "--max-concurrency", "1",
                                  "--max-new-tokens", "4", "--dispatch", "lb", "--no-plots", "--output-dir",
                                  out_dir.string()};
    args.insert(args.end(), routing.begin(), routing.end());
    child p(exe, args, tmp.path, "run" + id);
    REQUIRE(p.wait(60s));
    INFO(p.stdout_text() << p.stderr_text());
    REQUIRE(p.exit_code() == 0);
    ::kill(sim.proc->pid, SIGTERM);
    sim.proc->wait(10s);
    const auto summary = boost::json::parse(rt::slurp(out_dir / "log_mixed_0.01" / "summary.json"));
    return summary.at("cache_prediction").as_object();
  };
  // The seed's way: the messages' bare text. The servers' blocks begin with the template's
  // tokens, so the tree's blocks are not theirs and the predictions miss.
  const auto bare = run({});
  CHECK(bare.at("compared").to_number<int>() == 30);
  CHECK(bare.at("mae_tokens").to_number<double>() > 1.0);
  // Rendered locally with the nodes' template (pswm sim's default is Llama 3.1's).
  const auto local = run({"--chat-template", "llama3.1"});
  CHECK(local.at("compared").to_number<int>() == 30);
  CHECK(local.at("mae_tokens").to_number<double>() == 0.0);
  // Asked of node 0's /tokenize.
  const auto server = run({"--tokenizer", "server"});
  CHECK(server.at("compared").to_number<int>() == 30);
  CHECK(server.at("mae_tokens").to_number<double>() == 0.0);
}

TEST_CASE("reliability cli: pswm route rejects bad flag values naming the flag", "[reliability][cli][route]") {
  PSWM_BINARY_OR_SKIP(exe);
  rt::temp_dir tmp("routeflags");
  const std::vector<bad_flags> cases{
      {{"--listen", "nohost"}, "--listen"},
      {{"--listen", "127.0.0.1:70000"}, "--listen"},
      {{"--busy-poll", "2"}, "--busy-poll must be between 0 and 1 second"},
      {{"--chat-template", "no/such/tokenizer_config.json"}, "--chat-template: no/such/tokenizer_config.json: no such file"},
      {{"--num-nodes", "2", "--kv-events-endpoints", "tcp://127.0.0.1:1"}, "--kv-events-endpoints: 1 endpoint(s) for 2"},
      {{"--max-body", "0"}, "--max-body must be at least 1 byte"},
      {{"--header-timeout", "0"}, "--header-timeout must be more than 0"},
      {{"--endpoints", "http://127.0.0.1:1", "--num-nodes", "2"}, "--endpoints and --num-nodes exclude"},
      {{"--dispatch", "nosuch"}, "nosuch"},
  };
  expect_refused(exe, tmp.path, {"route"}, cases);
}

TEST_CASE("reliability cli: pswm run through pswm route records the serving node of every request, and the router drains on SIGTERM", "[reliability][cli][route]") {
  PSWM_BINARY_OR_SKIP(exe);
  rt::temp_dir tmp("routerun");
  auto sim = start_sim(exe, 2, tmp.path, "sim");
  child router(exe,
               {"route", "--listen", "127.0.0.1:0", "--endpoints", sim.urls[0] + "," + sim.urls[1], "--dispatch",
                "lb", "--health-interval", "0.1"},
               tmp.path, "route");
  const auto router_url = printed_after(router, "pswm route: listening on ", "pswm route");
  const auto dataset = rt::write_dataset(tmp.path, 12);
  const auto out_dir = tmp.path / "out";
  child run(exe,
            {"run", "--endpoints", router_url, "--dataset-file", dataset.string(), "--maxq", "12",
             "--average-interval", "0.01", "--max-new-tokens", "4", "--dispatch", "rr", "--no-plots", "--output-dir",
             out_dir.string()},
            tmp.path, "run");
  REQUIRE(run.wait(60s));
  INFO(run.stdout_text() << run.stderr_text() << router.stderr_text());
  REQUIRE(run.exit_code() == 0);
  const auto jsonl = find_requests_jsonl(out_dir);
  REQUIRE_FALSE(jsonl.empty());
  std::size_t lines = 0;
  std::set<std::string> nodes;
  for (const auto& line : rt::lines_of(rt::slurp(jsonl))) {
    const auto rec = boost::json::parse(line).as_object();
    ++lines;
    CHECK(rec.at("ok").as_bool());
    const auto* by = rec.if_contains("served_by");
    REQUIRE(by != nullptr);
    nodes.insert(std::string(by->as_string()));
  }
  CHECK(lines == 12);
  // The router's lb sees two nodes behind one endpoint; every answer named one of them.
  for (const auto& n : nodes) CHECK((n == "node_0" || n == "node_1"));
  REQUIRE(::kill(router.pid, SIGTERM) == 0);
  REQUIRE(router.wait(10s));
  CHECK(router.exit_code() == 0);
  CHECK(router.stderr_text().find("pswm route: stopped") != std::string::npos);
  ::kill(sim.proc->pid, SIGTERM);
  sim.proc->wait(10s);
}
