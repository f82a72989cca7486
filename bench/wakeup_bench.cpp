// SPDX-License-Identifier: MIT
// wakeup_bench: what one hop between two threads over loopback TCP costs on this machine,
// when the receiving thread sleeps in epoll_wait and when it polls.
//
// A client thread sends 400 bytes, a server thread echoes them, the client reads them back,
// 20,000 times, with 0.5 ms between round trips (so a sleeping thread has gone to sleep).
// Reported: the round trip and the client's send() call, p50 and p99, for: both threads
// waiting in epoll_wait for each message (so each message wakes its receiver) on different
// CPUs, on one CPU, and both polling (epoll_wait with a zero timeout) on different CPUs. A router adds two such hops to every request, so this is
// the floor under the latency it adds, and the reason `pswm route --busy-poll` exists: on a
// virtual machine a wake-up goes through the hypervisor.
//
// Usage: wakeup_bench [--round-trips N]
#include "pin_thread.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

/// Waits for `fd` to be readable: blocking in epoll_wait, or polling it with a zero timeout.
void wait_readable(int ep, bool poll) {
  epoll_event ev[4];
  while (epoll_wait(ep, ev, 4, poll ? 0 : -1) <= 0) {
  }
}

int watch(int fd) {
  const int ep = epoll_create1(0);
  epoll_event e{};
  e.events = EPOLLIN | EPOLLET;
  e.data.fd = fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  return ep;
}

void no_delay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

double percentile(std::vector<double>& v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct result {
  double rtt50, rtt99, send50, send99;
};

result ping_pong(int client_cpu, int server_cpu, bool poll, int round_trips) {
  const int ls = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(ls, 1);
  socklen_t len = sizeof a;
  getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);

  std::thread server([&] {
    bench::pin_to(server_cpu);
    const int c = accept(ls, nullptr, nullptr);
    no_delay(c);
    const int ep = watch(c);
    char buf[512];
    for (;;) {
      wait_readable(ep, poll);
      const auto n = recv(c, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) break;
      if (n > 0) send(c, buf, static_cast<std::size_t>(n), 0);
    }
    close(ep);
    close(c);
  });

  bench::pin_to(client_cpu);
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  no_delay(s);
  const int ep = watch(s);
  char buf[400];
  std::memset(buf, 'x', sizeof buf);
  std::vector<double> rtt, snd;
  rtt.reserve(static_cast<std::size_t>(round_trips));
  snd.reserve(static_cast<std::size_t>(round_trips));
  for (int i = 0; i < round_trips; ++i) {
    const auto t0 = clock_type::now();
    send(s, buf, sizeof buf, 0);
    const auto t1 = clock_type::now();
    std::size_t got = 0;
    while (got < sizeof buf) {
      wait_readable(ep, poll);
      const auto n = recv(s, buf, sizeof buf - got, MSG_DONTWAIT);
      if (n > 0) got += static_cast<std::size_t>(n);
    }
    const auto t2 = clock_type::now();
    rtt.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
    snd.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    // 0.5 ms apart, spinning, so the server has gone back to sleep (or kept polling).
    const auto next = t2 + std::chrono::microseconds(500);
    while (clock_type::now() < next) {
    }
  }
  shutdown(s, SHUT_RDWR);
  close(s);
  server.join();
  close(ep);
  close(ls);
  return {percentile(rtt, 0.5), percentile(rtt, 0.99), percentile(snd, 0.5), percentile(snd, 0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  int round_trips = 20000;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--round-trips" && i + 1 < argc) {
      round_trips = std::max(100, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: wakeup_bench [--round-trips N]\n");
      return 2;
    }
  }
  const unsigned cpus = std::thread::hardware_concurrency();
  std::printf("wakeup_bench: %d round trips of 400 bytes over loopback TCP, 0.5 ms apart (%u CPUs)\n\n", round_trips, cpus);
  std::printf("%-50s | %9s %9s | %9s %9s\n", "placement", "RTT p50", "p99", "send p50", "p99");
  struct placement {
    const char* name;
    int client, server;
    bool poll;
  };
  std::vector<placement> runs{{"both sleep in epoll_wait, CPUs 0 and 1", 0, 1, false},
                              {"both sleep in epoll_wait, both on CPU 0", 0, 0, false},
                              {"both poll, CPUs 0 and 1", 0, 1, true}};
  if (cpus < 2) runs = {{"both sleep in epoll_wait, both on CPU 0", 0, 0, false}};
  for (const auto& p : runs) {
    const auto r = ping_pong(p.client, p.server, p.poll, round_trips);
    std::printf("%-50s | %7.1fus %7.1fus | %7.1fus %7.1fus\n", p.name, r.rtt50, r.rtt99, r.send50, r.send99);
    std::fflush(stdout);
  }
  return 0;
}
