// SPDX-License-Identifier: MIT
// driver_bench: pswm's request pipeline against `pswm sim --profile instant` in another process, as a Poisson rate sweep.
//
// Google Benchmark's iteration model does not fit a rate sweep, so this is a plain main().
// Per rate: a fresh `pswm sim` (8 nodes, instant profile) is spawned; a forked child runs
// experiment::runner (streaming chat, 16 tokens, policy lb, short prompts) for the given
// duration; the parent samples the child's RSS, collects both processes' rusage with
// wait4(), and reads the child's numbers. Then a timing run at --timing-rate compares
// pswm's TTFT with the emulator's own record (`pswm sim --timing-log`). Writes a JSON file
// and prints a table.
#include <planetserve/experiment/runner.hpp>
#include <planetserve/experiment/stats.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "floor_client.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
namespace ex = planetserve::experiment;
using steady = std::chrono::steady_clock;

struct options {
  std::string pswm;
  std::vector<double> rates{500, 1000, 2000, 5000, 10000};
  double duration_s = 10;
  std::size_t nodes = 8;
  unsigned max_tokens = 16;
  std::string policy = "lb";
  double timing_rate = 1000;
  bool timing = true;
  std::string out = "driver_bench.json";
  std::string keep_dir;  // keep the runs' outputs here (else a temp dir, removed)
  int repeat = 1;
  bool floor = false;  // also run the floor client (floor_client.hpp) at each rate
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "driver_bench: " << what << "\n";
  std::exit(1);
}

double cpu_seconds(const rusage& ru) {
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

double user_seconds(const rusage& ru) {
  return static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) * 1e-6;
}

double self_user() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return user_seconds(ru);
}

double self_cpu() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return cpu_seconds(ru);
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const double idx = p / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(idx));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

std::string prompt_text(std::size_t i) {
  static const char* topics[] = {"rivers", "compilers", "tea", "bridges", "owls", "prime numbers", "sailing", "glass"};
  return "Request " + std::to_string(i) + ": write two sentences about " + topics[i % 8] + ".";
}

// ---- the emulator process ----------------------------------------------------------------

struct sim_process {
  pid_t pid = -1;
  std::vector<std::string> urls;
};

sim_process start_sim(const options& o, const fs::path& dir, const std::string& timing_log) {
  int fds[2];
  if (::pipe(fds) != 0) die("pipe failed");
  std::vector<std::string> args{o.pswm, "sim", "--profile", "instant", "--num-nodes", std::to_string(o.nodes),
                                "--base-port", "0", "--shutdown-grace-seconds", "0"};
  if (!timing_log.empty()) {
    args.push_back("--timing-log");
    args.push_back(timing_log);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  const std::string err_log = (dir / "sim.stderr").string();
  posix_spawn_file_actions_addopen(&fa, 2, err_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  sim_process sp;
  if (int rc = posix_spawn(&sp.pid, o.pswm.c_str(), &fa, nullptr, argv.data(), environ); rc != 0)
    die("cannot start " + o.pswm + ": " + std::strerror(rc));
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  std::string buf;
  char tmp[4096];
  while (sp.urls.size() < o.nodes) {
    const ssize_t got = ::read(fds[0], tmp, sizeof tmp);
    if (got <= 0) die("pswm sim exited before listing its nodes (see " + err_log + ")");
    buf.append(tmp, static_cast<std::size_t>(got));
    std::size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      const std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      const auto at = line.find("http://");
      if (line.rfind("node ", 0) == 0 && at != std::string::npos)
        sp.urls.push_back(line.substr(at, line.find(' ', at) - at));
    }
  }
  ::close(fds[0]);
  return sp;
}

rusage stop_sim(sim_process& sp) {
  ::kill(sp.pid, SIGTERM);
  int status = 0;
  rusage ru{};
  ::wait4(sp.pid, &status, 0, &ru);
  sp.pid = -1;
  return ru;
}

// ---- the client (forked child) ---------------------------------------------------------

struct client_numbers {
  bool ok = false;
  std::string error;
  std::size_t requests = 0, failures = 0;
  std::map<std::string, std::size_t> failure_kinds;
  double requested_rate = 0, scheduled_rate = 0, achieved_rate = 0;
  double lag_p50 = 0, lag_p99 = 0, lag_max = 0;
  double ttft_p50 = 0, ttft_p99 = 0;
  std::size_t peak_inflight = 0;
  double run_cpu_s = 0;           // CPU of async_run (sending, receiving, outputs)
  double steady_cpu_s = 0;        // CPU between 1 s and duration-0.5 s
  double steady_user_s = 0;       // of which user time (the rest is the kernel's)
  std::size_t steady_requests = 0;  // requests scheduled in that window
  std::size_t short_streams = 0;  // ok but not max_tokens tokens
  std::string log_dir;
  long long t0_ns = 0;            // the run's time zero, steady clock (CLOCK_MONOTONIC) ns
};

json::object to_json(const client_numbers& c) {
  json::object o;
  o["ok"] = c.ok;
  o["error"] = c.error;
  o["requests"] = c.requests;
  o["failures"] = c.failures;
  json::object fk;
  for (const auto& [k, v] : c.failure_kinds) fk[k] = v;
  o["failure_kinds"] = std::move(fk);
  o["requested_rate"] = c.requested_rate;
  o["scheduled_rate"] = c.scheduled_rate;
  o["achieved_rate"] = c.achieved_rate;
  o["send_lag_p50_s"] = c.lag_p50;
  o["send_lag_p99_s"] = c.lag_p99;
  o["send_lag_max_s"] = c.lag_max;
  o["ttft_p50_s"] = c.ttft_p50;
  o["ttft_p99_s"] = c.ttft_p99;
  o["peak_inflight"] = c.peak_inflight;
  o["run_cpu_s"] = c.run_cpu_s;
  o["steady_cpu_s"] = c.steady_cpu_s;
  o["steady_user_s"] = c.steady_user_s;
  o["steady_requests"] = c.steady_requests;
  o["short_streams"] = c.short_streams;
  o["log_dir"] = c.log_dir;
  o["t0_ns"] = c.t0_ns;
  return o;
}

client_numbers from_json(const json::object& o) {
  client_numbers c;
  auto num = [&](const char* k) { return o.at(k).to_number<double>(); };
  c.ok = o.at("ok").as_bool();
  c.error = o.at("error").as_string().c_str();
  c.requests = static_cast<std::size_t>(num("requests"));
  c.failures = static_cast<std::size_t>(num("failures"));
  for (const auto& [k, v] : o.at("failure_kinds").as_object())
    c.failure_kinds[std::string(k)] = static_cast<std::size_t>(v.to_number<double>());
  c.requested_rate = num("requested_rate");
  c.scheduled_rate = num("scheduled_rate");
  c.achieved_rate = num("achieved_rate");
  c.lag_p50 = num("send_lag_p50_s");
  c.lag_p99 = num("send_lag_p99_s");
  c.lag_max = num("send_lag_max_s");
  c.ttft_p50 = num("ttft_p50_s");
  c.ttft_p99 = num("ttft_p99_s");
  c.peak_inflight = static_cast<std::size_t>(num("peak_inflight"));
  c.run_cpu_s = num("run_cpu_s");
  c.steady_cpu_s = num("steady_cpu_s");
  c.steady_user_s = num("steady_user_s");
  c.steady_requests = static_cast<std::size_t>(num("steady_requests"));
  c.short_streams = static_cast<std::size_t>(num("short_streams"));
  c.log_dir = o.at("log_dir").as_string().c_str();
  c.t0_ns = o.at("t0_ns").to_number<long long>();
  return c;
}

json::object to_json(const driver_bench::floor_numbers& f) {
  json::object o;
  o["ok"] = f.ok;
  o["error"] = f.error;
  o["requests"] = f.requests;
  o["completed"] = f.completed;
  o["failures"] = f.failures;
  o["steady_cpu_s"] = f.steady_cpu_s;
  o["steady_user_s"] = f.steady_user_s;
  o["steady_requests"] = f.steady_requests;
  o["send_lag_p99_s"] = f.lag_p99_s;
  return o;
}

driver_bench::floor_numbers floor_from_json(const json::object& o) {
  driver_bench::floor_numbers f;
  auto count = [&](const char* k) { return static_cast<std::size_t>(o.at(k).to_number<double>()); };
  f.ok = o.at("ok").as_bool();
  f.error = o.at("error").as_string().c_str();
  f.requests = count("requests");
  f.completed = count("completed");
  f.failures = count("failures");
  f.steady_cpu_s = o.at("steady_cpu_s").to_number<double>();
  f.steady_user_s = o.at("steady_user_s").to_number<double>();
  f.steady_requests = count("steady_requests");
  f.lag_p99_s = o.at("send_lag_p99_s").to_number<double>();
  return f;
}

client_numbers run_client(const options& o, double rate, const std::vector<std::string>& urls,
                          const fs::path& dataset, std::size_t n, const fs::path& out_dir) {
  client_numbers res;
  ex::run_config cfg;
  cfg.endpoints = urls;
  cfg.api = ex::api_kind::chat;
  cfg.dataset_file = dataset;
  cfg.maxq = n;
  cfg.arrival = planetserve::workload::arrival_process::poisson;
  cfg.average_interval_s = 1.0 / rate;
  cfg.seed = 1;
  cfg.max_new_tokens = o.max_tokens;
  cfg.ignore_eos = true;
  cfg.policies = {o.policy};
  cfg.output_dir = out_dir;
  cfg.progress = false;
  cfg.render_figures = false;
  cfg.request_timeout = std::chrono::duration<double>(30);
  std::ostringstream log;
  asio::io_context io(1);
  ex::runner r(io.get_executor(), cfg, log);
  planetserve::diagnostics diag;
  if (auto ec = r.prepare(diag)) {
    res.error = "prepare: " + diag.message;
    return res;
  }
  bool done = false;
  double cpu_a = 0, cpu_b = 0, cpu_1 = 0, cpu_2 = 0, user_1 = 0, user_2 = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        if (auto ec = co_await r.async_preflight(diag)) {
          res.error = "preflight: " + diag.message;
          co_return;
        }
        // Steady-state CPU: sampled by a timer, away from start-up and the final outputs.
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
              asio::steady_timer t(io);
              t.expires_after(std::chrono::seconds(1));
              co_await t.async_wait(asio::use_awaitable);
              cpu_1 = self_cpu();
              user_1 = self_user();
              t.expires_after(std::chrono::duration_cast<steady::duration>(
                  std::chrono::duration<double>(o.duration_s - 1.5)));
              co_await t.async_wait(asio::use_awaitable);
              if (!done) {
                cpu_2 = self_cpu();
                user_2 = self_user();
              }
            },
            asio::detached);
        cpu_a = self_cpu();
        if (auto ec = co_await r.async_run(diag)) res.error = "run: " + diag.message;
        cpu_b = self_cpu();
        done = true;
      },
      asio::detached);
  io.run();
  if (!res.error.empty()) return res;
  if (r.results().empty()) {
    res.error = "no results";
    return res;
  }
  const auto& pr = r.results().front();
  const auto& recs = pr.records;
  res.log_dir = pr.layout.log_dir.string();
  if (!pr.epoch_starts.empty())
    res.t0_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(pr.epoch_starts.front().time_since_epoch()).count();
  res.requests = recs.size();
  res.requested_rate = rate;
  res.run_cpu_s = cpu_b - cpu_a;
  res.steady_cpu_s = cpu_2 > 0 ? cpu_2 - cpu_1 : std::nan("");
  res.steady_user_s = cpu_2 > 0 ? user_2 - user_1 : std::nan("");
  std::vector<double> lag, ttft;
  std::vector<std::pair<double, int>> events;
  double last_sched = 0, last_sent = 0;
  for (const auto& rec : recs) {
    if (!rec.ok) {
      ++res.failures;
      ++res.failure_kinds[rec.error_kind];
    } else if (rec.completion_tokens != o.max_tokens) {
      ++res.short_streams;
    }
    if (std::isfinite(rec.send_lag_s())) lag.push_back(rec.send_lag_s());
    if (rec.ok && std::isfinite(rec.ttft_s())) ttft.push_back(rec.ttft_s());
    last_sched = std::max(last_sched, rec.scheduled_s);
    if (std::isfinite(rec.sent_s)) last_sent = std::max(last_sent, rec.sent_s);
    if (rec.scheduled_s >= 1.0 && rec.scheduled_s < o.duration_s - 0.5) ++res.steady_requests;
    if (std::isfinite(rec.sent_s) && std::isfinite(rec.finished_s)) {
      events.emplace_back(rec.sent_s, 1);
      events.emplace_back(rec.finished_s, -1);
    }
  }
  res.scheduled_rate = last_sched > 0 ? static_cast<double>(recs.size()) / last_sched : 0;
  res.achieved_rate = last_sent > 0 ? static_cast<double>(recs.size()) / last_sent : 0;
  res.lag_p50 = pct(lag, 50);
  res.lag_p99 = pct(lag, 99);
  res.lag_max = lag.empty() ? std::nan("") : *std::max_element(lag.begin(), lag.end());
  res.ttft_p50 = pct(ttft, 50);
  res.ttft_p99 = pct(ttft, 99);
  std::sort(events.begin(), events.end());
  long cur = 0, peak = 0;
  for (const auto& e : events) peak = std::max(peak, cur += e.second);
  res.peak_inflight = static_cast<std::size_t>(peak);
  res.ok = true;
  return res;
}

// ---- one rate, both processes --------------------------------------------------------------

struct rate_result {
  client_numbers c;
  double client_cpu_total_s = 0;  // the whole child process (prepare, tokenize, outputs)
  double client_user_s = 0;       // of which user time (the rest is system time)
  long client_peak_rss_kib = 0;
  std::vector<std::pair<double, long>> rss_trace;  // (s since fork, KiB)
  double sim_cpu_s = 0;
  double sim_user_s = 0;
  long sim_peak_rss_kib = 0;
  std::string load_before, load_after;
  driver_bench::floor_numbers floor;  // when the child ran the floor client instead
};

enum class client_kind { pswm, floor };

rate_result run_rate(const options& o, double rate, const fs::path& work, const fs::path& dataset,
                     const std::string& timing_log, const std::string& label,
                     client_kind kind = client_kind::pswm) {
  rate_result rr;
  rr.load_before = loadavg();
  const auto n = static_cast<std::size_t>(std::llround(rate * o.duration_s));
  const fs::path out_dir = work / label;
  fs::create_directories(out_dir);
  sim_process sp = start_sim(o, work, timing_log);
  const fs::path result_file = out_dir / "client.json";
  std::cout.flush();
  const pid_t child = ::fork();
  if (child < 0) die("fork failed");
  if (child == 0) {
    if (kind == client_kind::floor) {
      const auto f = driver_bench::run_floor_client(sp.urls, "meta-llama/Llama-3.1-8B-Instruct", rate, n,
                                                    o.max_tokens, o.duration_s, prompt_text);
      std::ofstream(result_file) << json::serialize(to_json(f));
      std::_Exit(f.ok ? 0 : 1);
    }
    client_numbers c = run_client(o, rate, sp.urls, dataset, n, out_dir);
    std::ofstream(result_file) << json::serialize(to_json(c));
    std::_Exit(c.ok ? 0 : 1);
  }
  const auto t0 = steady::now();
  int status = 0;
  rusage ru{};
  for (;;) {
    const pid_t w = ::wait4(child, &status, WNOHANG, &ru);
    if (w == child) break;
    const long kib = rss_kib(child);
    if (kib > 0) rr.rss_trace.emplace_back(std::chrono::duration<double>(steady::now() - t0).count(), kib);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const rusage sim_ru = stop_sim(sp);
  rr.load_after = loadavg();
  rr.client_cpu_total_s = cpu_seconds(ru);
  rr.client_user_s = user_seconds(ru);
  rr.sim_user_s = user_seconds(sim_ru);
  rr.client_peak_rss_kib = ru.ru_maxrss;
  rr.sim_cpu_s = cpu_seconds(sim_ru);
  rr.sim_peak_rss_kib = sim_ru.ru_maxrss;
  std::ifstream in(result_file);
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  auto v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) {
    rr.c.error = "client process failed (status " + std::to_string(status) + ")";
    return rr;
  }
  if (kind == client_kind::floor) {
    rr.floor = floor_from_json(v.as_object());
    return rr;
  }
  rr.c = from_json(v.as_object());
  return rr;
}

// RSS growth while sending (the child starts sending ~0.5 s after the fork): RSS at the
// schedule's end minus at 1.5 s, in MiB. The outputs written afterwards are left out.
double rss_growth_mib(const rate_result& rr, double duration_s) {
  long at1 = 0, atend = 0;
  for (const auto& [t, k] : rr.rss_trace) {
    if (t <= 1.5) at1 = k;
    if (t <= duration_s) atend = k;
  }
  return at1 > 0 ? static_cast<double>(atend - at1) / 1024.0 : 0.0;
}

// ---- the timing check ----------------------------------------------------------------------

struct timing_result {
  std::size_t matched = 0, unmatched = 0;
  double diff_p50 = 0, diff_p99 = 0, diff_max = 0;  // pswm TTFT - emulator TTFT
  double client_ttft_p50 = 0, server_ttft_p50 = 0;
  // Instants on the shared monotonic clock: pswm's first-token arrival - the emulator's
  // first-token write (how exactly pswm stamps what arrives), and the emulator's receipt of
  // the request - pswm's send (the request's way in, including the emulator's own queue).
  double arrive_p50 = 0, arrive_p99 = 0, arrive_max = 0;
  double transit_p50 = 0, transit_p99 = 0;
};

timing_result timing_check(const fs::path& log_dir, const std::string& timing_log, std::size_t n, long long t0_ns) {
  timing_result t;
  // The emulator's record: prompt hash -> (received, first token written), nanoseconds.
  std::unordered_map<std::uint64_t, std::pair<long long, long long>> server;
  {
    std::ifstream in(timing_log);
    unsigned port = 0;
    std::string hash;
    long long a = 0, b = 0;
    while (in >> port >> hash >> a >> b) server[std::stoull(hash, nullptr, 16)] = {a, b};
  }
  std::vector<std::uint64_t> hashes(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string p = prompt_text(i);
    hashes[i] = XXH3_64bits(p.data(), p.size());
  }
  std::ifstream in(log_dir / "requests.jsonl");
  std::string line;
  std::vector<double> diffs, cl, sv, arrive, transit;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const auto& o = v.as_object();
    if (!o.at("ok").as_bool()) continue;
    const auto q = static_cast<std::size_t>(o.at("query_id").to_number<double>());
    const auto& ft = o.at("first_token_s");
    const auto& st = o.at("sent_s");
    if (q >= n || !ft.is_number() || !st.is_number()) continue;
    auto it = server.find(hashes[q]);
    if (it == server.end()) {
      ++t.unmatched;
      continue;
    }
    const double client_ttft = ft.to_number<double>() - st.to_number<double>();
    const double server_ttft = static_cast<double>(it->second.second - it->second.first) * 1e-9;
    diffs.push_back(client_ttft - server_ttft);
    if (t0_ns != 0) {
      const double first_abs = static_cast<double>(t0_ns) * 1e-9 + ft.to_number<double>();
      const double sent_abs = static_cast<double>(t0_ns) * 1e-9 + st.to_number<double>();
      arrive.push_back(first_abs - static_cast<double>(it->second.second) * 1e-9);
      transit.push_back(static_cast<double>(it->second.first) * 1e-9 - sent_abs);
    }
    cl.push_back(client_ttft);
    sv.push_back(server_ttft);
  }
  t.matched = diffs.size();
  t.diff_p50 = pct(diffs, 50);
  t.diff_p99 = pct(diffs, 99);
  t.diff_max = diffs.empty() ? std::nan("") : *std::max_element(diffs.begin(), diffs.end());
  t.client_ttft_p50 = pct(cl, 50);
  t.arrive_p50 = pct(arrive, 50);
  t.arrive_p99 = pct(arrive, 99);
  t.arrive_max = arrive.empty() ? std::nan("") : *std::max_element(arrive.begin(), arrive.end());
  t.transit_p50 = pct(transit, 50);
  t.transit_p99 = pct(transit, 99);
  t.server_ttft_p50 = pct(sv, 50);
  return t;
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--pswm") {
      o.pswm = next();
    } else if (a == "--rates") {
      o.rates.clear();
      std::stringstream ss(next());
      std::string item;
      while (std::getline(ss, item, ',')) o.rates.push_back(std::stod(item));
    } else if (a == "--duration") {
      o.duration_s = std::stod(next());
    } else if (a == "--nodes") {
      o.nodes = std::stoul(next());
    } else if (a == "--timing-rate") {
      o.timing_rate = std::stod(next());
    } else if (a == "--no-timing") {
      o.timing = false;
    } else if (a == "--out") {
      o.out = next();
    } else if (a == "--keep") {
      o.keep_dir = next();
    } else if (a == "--floor") {
      o.floor = true;
    } else if (a == "--repeat") {
      o.repeat = std::stoi(next());
    } else if (a == "--help" || a == "-h") {
      std::cout << "Usage: driver_bench [--pswm PATH] [--rates 500,1000,2000,5000,10000] [--duration 10]\n"
                   "                    [--nodes 8] [--timing-rate 1000 | --no-timing] [--repeat 1]\n"
                   "                    [--out driver_bench.json] [--keep DIR] [--floor]\n"
                   "Runs pswm's pipeline (experiment::runner, streaming chat, 16 tokens, policy lb) against\n"
                   "`pswm sim --profile instant` in a separate process at each Poisson rate; prints a table\n"
                   "and writes the numbers as JSON. PATH defaults to ../apps/pswm/pswm next to this binary.\n"
                   "--floor also runs, at each rate, a minimal epoll client (same emulator, schedule and\n"
                   "requests; no parsing, no records) and reports its CPU per request: the kernel's and the\n"
                   "event loop's share on this machine, which pswm's CPU per request includes.\n";
      std::exit(0);
    } else {
      die("unknown argument " + a + " (see --help)");
    }
  }
  if (o.pswm.empty()) {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    o.pswm = (self.parent_path().parent_path() / "apps" / "pswm" / "pswm").string();
  }
  if (::access(o.pswm.c_str(), X_OK) != 0) die("pswm binary not found at " + o.pswm + " (give --pswm PATH)");
  if (o.duration_s < 2) die("--duration: give at least 2 seconds");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse_args(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  fs::path work;
  if (!o.keep_dir.empty()) {
    work = o.keep_dir;
    fs::create_directories(work);
  } else {
    std::string tmpl = (fs::temp_directory_path() / "pswm-driver-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) die("mkdtemp failed");
    work = tmpl;
  }
  double max_rate = o.timing ? o.timing_rate : 0;
  for (double r : o.rates) max_rate = std::max(max_rate, r);
  const auto max_n = static_cast<std::size_t>(std::llround(max_rate * o.duration_s));
  const fs::path dataset = work / "prompts.jsonl";
  {
    std::ofstream ds(dataset);
    for (std::size_t i = 0; i < max_n; ++i) ds << "{\"workload\": \"" << prompt_text(i) << "\"}\n";
  }
  std::cout << "driver_bench: pswm " << o.pswm << ", " << o.nodes << " nodes, " << o.duration_s
            << " s per rate, chat stream, max_tokens " << o.max_tokens << ", policy " << o.policy
            << ", CPUs " << std::thread::hardware_concurrency() << ", load " << loadavg() << "\n";

  json::array rows;
  std::vector<std::pair<double, rate_result>> all;
  for (int rep = 0; rep < o.repeat; ++rep) {
    for (double rate : o.rates) {
      rate_result rr = run_rate(o, rate, work, dataset, "",
                                "rate_" + std::to_string(static_cast<long>(rate)) + "_" + std::to_string(rep));
      const auto& c = rr.c;
      json::object row = to_json(c);
      row["repeat"] = rep;
      row["client_cpu_total_s"] = rr.client_cpu_total_s;
      row["client_user_s"] = rr.client_user_s;
      row["sim_user_s"] = rr.sim_user_s;
      row["client_cpu_us_per_request"] = c.requests ? rr.client_cpu_total_s / static_cast<double>(c.requests) * 1e6 : 0.0;
      row["client_run_cpu_us_per_request"] = c.requests ? c.run_cpu_s / static_cast<double>(c.requests) * 1e6 : 0.0;
      row["client_steady_cpu_us_per_request"] =
          c.steady_requests ? c.steady_cpu_s / static_cast<double>(c.steady_requests) * 1e6 : 0.0;
      row["client_steady_user_us_per_request"] =
          c.steady_requests ? c.steady_user_s / static_cast<double>(c.steady_requests) * 1e6 : 0.0;
      row["client_peak_rss_kib"] = rr.client_peak_rss_kib;
      row["client_rss_growth_while_sending_mib"] = rss_growth_mib(rr, o.duration_s);
      json::array trace;
      for (const auto& [t, k] : rr.rss_trace) trace.push_back(json::array{t, k});
      row["client_rss_trace_kib"] = std::move(trace);
      row["sim_cpu_s"] = rr.sim_cpu_s;
      row["sim_cpu_us_per_request"] = c.requests ? rr.sim_cpu_s / static_cast<double>(c.requests) * 1e6 : 0.0;
      row["sim_peak_rss_kib"] = rr.sim_peak_rss_kib;
      row["load_before"] = rr.load_before;
      row["load_after"] = rr.load_after;
      if (!c.ok) std::cout << "rate " << rate << ": " << c.error << "\n";
      if (o.floor) {
        rr.floor = run_rate(o, rate, work, dataset, "",
                            "floor_" + std::to_string(static_cast<long>(rate)) + "_" + std::to_string(rep),
                            client_kind::floor)
                       .floor;
        const auto& f = rr.floor;
        if (!f.ok) std::cout << "rate " << rate << ", floor client: " << f.error << "\n";
        row["floor_ok"] = f.ok;
        row["floor_failures"] = f.failures;
        row["floor_send_lag_p99_s"] = f.lag_p99_s;
        row["floor_steady_cpu_us_per_request"] =
            f.steady_requests ? f.steady_cpu_s / static_cast<double>(f.steady_requests) * 1e6 : 0.0;
        row["floor_steady_user_us_per_request"] =
            f.steady_requests ? f.steady_user_s / static_cast<double>(f.steady_requests) * 1e6 : 0.0;
      }
      rows.push_back(std::move(row));
      all.emplace_back(rate, std::move(rr));
    }
  }

  std::printf("\n%8s %9s %7s %8s %8s %8s %9s %9s %9s %8s %8s %6s %8s %9s %s\n", "rate", "achieved", "ach/sch",
              "lag_p50", "lag_p99", "lag_max", "cpu_us/rq", "steady_us", "sim_us/rq", "rss_MiB", "rss_grow",
              "peak", "failures", "ttft_p50", "load(before)");
  for (const auto& [rate, rr] : all) {
    const auto& c = rr.c;
    if (!c.ok) continue;
    const double n = static_cast<double>(c.requests);
    const double grow = rss_growth_mib(rr, o.duration_s);
    std::printf("%8.0f %9.1f %6.2f%% %6.0fus %6.0fus %6.1fms %9.1f %9.1f %9.1f %8.1f %7.1fM %6zu %8zu %7.2fms %s\n",
                rate, c.achieved_rate, 100.0 * c.achieved_rate / c.scheduled_rate, c.lag_p50 * 1e6, c.lag_p99 * 1e6,
                c.lag_max * 1e3, rr.client_cpu_total_s / n * 1e6,
                c.steady_requests ? c.steady_cpu_s / static_cast<double>(c.steady_requests) * 1e6 : 0.0,
                rr.sim_cpu_s / n * 1e6, static_cast<double>(rr.client_peak_rss_kib) / 1024.0, grow, c.peak_inflight,
                c.failures + c.short_streams, c.ttft_p50 * 1e3, rr.load_before.c_str());
  }

  if (o.floor) {
    std::printf("\nfloor: a minimal epoll client, same emulator, schedule and requests, no parsing or records;\n"
                "steady-state CPU per request, split into user and kernel (sys) time\n"
                "%8s %9s %9s %9s %10s %10s %10s %11s %9s\n",
                "rate", "pswm_us", "pswm_usr", "pswm_sys", "floor_us", "floor_usr", "floor_sys", "pswm-floor",
                "failures");
    for (const auto& [rate, rr] : all) {
      const auto& c = rr.c;
      const auto& f = rr.floor;
      if (!c.ok || !c.steady_requests || !f.steady_requests) continue;
      const double cn = static_cast<double>(c.steady_requests) * 1e-6;
      const double fn = static_cast<double>(f.steady_requests) * 1e-6;
      const double p = c.steady_cpu_s / cn, pu = c.steady_user_s / cn;
      const double fl = f.steady_cpu_s / fn, fu = f.steady_user_s / fn;
      std::printf("%8.0f %9.1f %9.1f %9.1f %10.1f %10.1f %10.1f %11.1f %9zu\n", rate, p, pu, p - pu, fl, fu, fl - fu,
                  p - fl, f.failures + (f.requests - f.completed - f.failures));
    }
  }

  json::object result;
  result["pswm"] = o.pswm;
  result["nodes"] = o.nodes;
  result["duration_s"] = o.duration_s;
  result["max_tokens"] = o.max_tokens;
  result["policy"] = o.policy;
  result["cpus"] = std::thread::hardware_concurrency();
  result["rates"] = std::move(rows);

  if (o.timing) {
    const std::string tlog = (work / "sim_timing.log").string();
    rate_result rr = run_rate(o, o.timing_rate, work, dataset, tlog, "timing");
    if (rr.c.ok) {
      const auto t = timing_check(rr.c.log_dir, tlog, static_cast<std::size_t>(std::llround(o.timing_rate * o.duration_s)),
                                  rr.c.t0_ns);
      std::printf("\ntiming check at %.0f req/s: %zu matched (%zu unmatched); pswm TTFT - emulator TTFT: p50 %.1f us, "
                  "p99 %.1f us, max %.1f us (pswm TTFT p50 %.1f us, emulator %.1f us); load %s\n",
                  o.timing_rate, t.matched, t.unmatched, t.diff_p50 * 1e6, t.diff_p99 * 1e6, t.diff_max * 1e6,
                  t.client_ttft_p50 * 1e6, t.server_ttft_p50 * 1e6, rr.load_before.c_str());
      std::printf("  first token: pswm's arrival stamp - emulator's write: p50 %.1f us, p99 %.1f us, max %.1f us\n"
                  "  request: emulator's receipt - pswm's send: p50 %.1f us, p99 %.1f us\n",
                  t.arrive_p50 * 1e6, t.arrive_p99 * 1e6, t.arrive_max * 1e6, t.transit_p50 * 1e6, t.transit_p99 * 1e6);
      json::object tj;
      tj["rate"] = o.timing_rate;
      tj["matched"] = t.matched;
      tj["unmatched"] = t.unmatched;
      tj["ttft_diff_p50_s"] = t.diff_p50;
      tj["ttft_diff_p99_s"] = t.diff_p99;
      tj["ttft_diff_max_s"] = t.diff_max;
      tj["pswm_ttft_p50_s"] = t.client_ttft_p50;
      tj["emulator_ttft_p50_s"] = t.server_ttft_p50;
      tj["first_token_arrival_minus_write_p50_s"] = t.arrive_p50;
      tj["first_token_arrival_minus_write_p99_s"] = t.arrive_p99;
      tj["first_token_arrival_minus_write_max_s"] = t.arrive_max;
      tj["request_receipt_minus_send_p50_s"] = t.transit_p50;
      tj["request_receipt_minus_send_p99_s"] = t.transit_p99;
      tj["load_before"] = rr.load_before;
      result["timing"] = std::move(tj);
    } else {
      std::printf("timing check failed: %s\n", rr.c.error.c_str());
    }
  }
  std::ofstream(o.out) << json::serialize(result) << "\n";
  std::printf("\nwrote %s%s%s\n", o.out.c_str(), o.keep_dir.empty() ? "" : "; runs kept in ",
              o.keep_dir.c_str());
  if (o.keep_dir.empty()) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  return 0;
}
