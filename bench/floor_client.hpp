// SPDX-License-Identifier: MIT
// driver_bench's floor: the least a client can do to drive the same workload, so pswm's CPU
// per request can be read as "floor + what pswm adds".
//
// Same emulator, same Poisson schedule, same streaming chat requests, one thread, one epoll
// loop, a timerfd for the schedule, keep-alive connections per node, round-robin over the
// nodes. Per request it builds nothing (the request bytes are made before the run), sends
// once and reads the response until the chunked body's last chunk, without parsing HTTP,
// SSE or JSON and without recording anything but a count. Whatever pswm spends above this
// is its own; what this spends is the kernel's loopback TCP and the loop's sleeps and
// wake-ups on this machine.
#pragma once

#include <planetserve/http/url.hpp>
#include <planetserve/openai/request_builder.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace driver_bench {

struct floor_numbers {
  bool ok = false;
  std::string error;
  std::size_t requests = 0, completed = 0, failures = 0;
  double steady_cpu_s = 0;          // CPU between 1 s and duration-0.5 s of the schedule
  double steady_user_s = 0;         // of which user time
  std::size_t steady_requests = 0;  // requests scheduled in that window
  double lag_p99_s = 0;             // send time - scheduled time, p99
};

namespace floor_detail {

inline double now_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Process CPU time: {user + system, user}.
inline std::pair<double, double> cpu_s() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const double user = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) * 1e-6;
  const double sys = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) * 1e-6;
  return {user + sys, user};
}

struct connection {
  int fd = -1;
  std::size_t node = 0;
  char tail[5]{};  // the last 5 bytes received, to spot "0\r\n\r\n"
  std::size_t tail_len = 0;
  bool busy = false;  // a request is in flight on it
};

// Whether the bytes received so far end with the chunked body's last chunk; the last five
// bytes are kept so the terminator is found across reads.
inline bool ends_body(connection& c, const char* data, std::size_t n) {
  char joined[10];
  std::memcpy(joined, c.tail, c.tail_len);
  const std::size_t add = std::min<std::size_t>(n, 5);
  std::memcpy(joined + c.tail_len, data + n - add, add);
  const std::size_t len = c.tail_len + add;
  const std::size_t keep = std::min<std::size_t>(len, 5);
  std::memcpy(c.tail, joined + len - keep, keep);
  c.tail_len = keep;
  return std::string_view(c.tail, keep) == "0\r\n\r\n";
}

}  // namespace floor_detail

/// Runs the floor client: `n` requests at Poisson `rate` (seed 1) spread round-robin over
/// `urls` (http://host:port), each a streaming chat request for `max_tokens` tokens of
/// `model` with the prompt `prompt(i)`.
inline floor_numbers run_floor_client(const std::vector<std::string>& urls, const std::string& model, double rate,
                                      std::size_t n, unsigned max_tokens, double duration_s,
                                      const std::function<std::string(std::size_t)>& prompt) {
  using namespace floor_detail;
  floor_numbers res;
  res.requests = n;
  std::vector<sockaddr_in> addrs;
  std::vector<std::string> hosts;
  for (const auto& u : urls) {
    planetserve::diagnostics diag;
    auto parsed = planetserve::http::parse_url(u, diag);
    if (!parsed) {
      res.error = "bad url " + u + ": " + diag.message;
      return res;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(parsed->port));
    if (::inet_pton(AF_INET, parsed->host.c_str(), &a.sin_addr) != 1) {
      res.error = "floor client needs an IPv4 address, got " + parsed->host;
      return res;
    }
    addrs.push_back(a);
    hosts.push_back(parsed->host + ":" + std::to_string(parsed->port));
  }
  // Every request's bytes, made before the clock starts.
  std::vector<std::string> wire(n);
  {
    planetserve::openai::request_options opt;
    opt.model = model;
    opt.max_tokens = max_tokens;
    opt.ignore_eos = true;
    std::string body;
    for (std::size_t i = 0; i < n; ++i) {
      const std::string p = prompt(i);
      const planetserve::openai::message_view m{"user", p};
      planetserve::openai::build_chat_body(opt, std::span(&m, 1), body);
      const std::string& host = hosts[i % hosts.size()];
      wire[i] = "POST /v1/chat/completions HTTP/1.1\r\nHost: " + host +
                "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
    }
  }
  std::vector<double> at(n);
  {
    std::mt19937_64 rng(1);
    std::exponential_distribution<double> gap(rate);
    double t = 0;
    for (auto& x : at) x = (t += gap(rng));
  }

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  const int tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  epoll_event tev{};
  tev.events = EPOLLIN;
  tev.data.ptr = nullptr;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

  std::vector<connection*> all;
  std::vector<std::vector<connection*>> idle(addrs.size());
  auto open = [&](std::size_t node) -> connection* {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return nullptr;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addrs[node]), sizeof(sockaddr_in)) != 0) {
      ::close(fd);
      return nullptr;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int fl = 1;
    ::ioctl(fd, FIONBIO, &fl);
    auto* c = new connection{fd, node};
    all.push_back(c);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return c;
  };

  // Closes a connection and takes it out of its node's idle list.
  auto close_conn = [&](connection* c) {
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    c->fd = -1;
    auto& list = idle[c->node];
    list.erase(std::remove(list.begin(), list.end(), c), list.end());
  };

  const double t0 = now_s() + 0.05;
  std::vector<double> lag;
  lag.reserve(n);
  std::size_t next = 0;
  std::pair<double, double> cpu_1{-1, -1}, cpu_2{-1, -1};
  const double stop_at = at.empty() ? 0 : at.back() + 30;
  auto arm = [&](double when) {
    itimerspec its{};
    const double abs = t0 + when;
    its.it_value.tv_sec = static_cast<time_t>(abs);
    its.it_value.tv_nsec = static_cast<long>((abs - static_cast<double>(its.it_value.tv_sec)) * 1e9);
    ::timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, nullptr);
  };
  if (n > 0) arm(at[0]);
  std::vector<char> buf(1 << 16);
  epoll_event events[64];
  while (res.completed + res.failures < n) {
    const int got = ::epoll_wait(ep, events, 64, 1000);
    const double t = now_s() - t0;
    if (t > stop_at) break;
    if (cpu_1.first < 0 && t >= 1.0) cpu_1 = cpu_s();
    if (cpu_2.first < 0 && t >= duration_s - 0.5) cpu_2 = cpu_s();
    for (int e = 0; e < got; ++e) {
      auto* c = static_cast<connection*>(events[e].data.ptr);
      if (c == nullptr) {  // the schedule's timer: send everything due
        std::uint64_t ticks;
        [[maybe_unused]] auto r = ::read(tfd, &ticks, sizeof ticks);
        while (next < n && at[next] <= t) {
          const std::size_t node = next % addrs.size();
          connection* conn = nullptr;
          if (!idle[node].empty()) {
            conn = idle[node].back();
            idle[node].pop_back();
          } else {
            conn = open(node);
          }
          if (conn != nullptr && ::send(conn->fd, wire[next].data(), wire[next].size(), MSG_NOSIGNAL) ==
                                     static_cast<ssize_t>(wire[next].size())) {
            conn->busy = true;
            lag.push_back(now_s() - t0 - at[next]);
          } else {
            ++res.failures;
            if (conn != nullptr) close_conn(conn);
          }
          ++next;
        }
        if (next < n) arm(at[next]);
        continue;
      }
      if (c->fd < 0) continue;  // closed earlier in this batch
      const ssize_t r = ::recv(c->fd, buf.data(), buf.size(), 0);
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (c->busy) ++res.failures;  // an idle connection the server closed costs no request
        close_conn(c);
        continue;
      }
      if (ends_body(*c, buf.data(), static_cast<std::size_t>(r))) {
        c->tail_len = 0;
        c->busy = false;
        ++res.completed;
        idle[c->node].push_back(c);
      }
    }
  }
  if (cpu_2.first < 0) cpu_2 = cpu_s();
  for (auto* c : all) {
    if (c->fd >= 0) ::close(c->fd);
    delete c;
  }
  ::close(tfd);
  ::close(ep);
  res.steady_cpu_s = cpu_1.first >= 0 ? cpu_2.first - cpu_1.first : 0;
  res.steady_user_s = cpu_1.first >= 0 ? cpu_2.second - cpu_1.second : 0;
  for (double x : at)
    if (x >= 1.0 && x < duration_s - 0.5) ++res.steady_requests;
  if (!lag.empty()) {
    std::sort(lag.begin(), lag.end());
    res.lag_p99_s = lag[static_cast<std::size_t>(0.99 * static_cast<double>(lag.size() - 1))];
  }
  res.ok = res.completed == n;
  if (!res.ok && res.error.empty())
    res.error = std::to_string(res.failures) + " failed, " + std::to_string(n - res.completed - res.failures) +
                " unfinished";
  return res;
}

}  // namespace driver_bench
