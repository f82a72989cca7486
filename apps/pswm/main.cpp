// SPDX-License-Identifier: MIT
// pswm entry point: dispatches to a subcommand.
#include "cli.hpp"
#include "commands.hpp"

#include <planetserve/version.hpp>

#include <boost/version.hpp>

#include <sys/resource.h>

#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace {

struct command {
  const char* name;
  const char* summary;
  int (*fn)(int, char**);
};

constexpr command commands[] = {
    {"run", "drive model servers with a workload and measure them (the main job)", pswm::cmd_run},
    {"sim", "start emulated vLLM servers (OpenAI API + /metrics) on loopback", pswm::cmd_sim},
    {"gen", "generate workload datasets, or describe one with --stats", pswm::cmd_gen},
    {"metrics", "scrape a server's /metrics (or read a saved page) and print it", pswm::cmd_metrics},
    {"report", "re-render the summary and figures of a saved run", pswm::cmd_report},
    {"decide", "route a recorded request sequence through a policy offline (no servers)", pswm::cmd_decide},
    {"route", "serve an OpenAI-compatible router that sends each request to a node by a policy", pswm::cmd_route},
};

void print_usage(std::ostream& os) {
  os << "pswm - PlanetServe workload measurer\n\n"
        "Usage: pswm <command> [options]\n"
        "       pswm <command> --help\n"
        "       pswm --version\n\n"
        "Commands:\n";
  for (const auto& c : commands) {
    os << "  " << c.name << std::string(10 - std::strlen(c.name), ' ') << c.summary << "\n";
  }
  os << "\nQuick start (emulated fleet, no GPU needed):\n"
        "  pswm run --sim --num-nodes 4 --dataset-file datasets/mixed.jsonl --dispatch rr,lb\n";
}

// Every request in flight holds a socket, and so does every emulated client connection:
// a run at thousands of requests per second needs more descriptors than the usual soft
// limit of 1024. Raise it to the hard limit, which needs no privilege.
void raise_descriptor_limit() noexcept {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  lim.rlim_cur = lim.rlim_max;
  (void)setrlimit(RLIMIT_NOFILE, &lim);
}

}  // namespace

int main(int argc, char** argv) {
  raise_descriptor_limit();
  if (argc < 2) {
    print_usage(std::cerr);
    return pswm::cli::exit_usage;
  }
  const std::string first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    print_usage(std::cout);
    return pswm::cli::exit_ok;
  }
  if (first == "--version" || first == "-V") {
    std::cout << "pswm " << planetserve::version_string << " (Boost " << BOOST_VERSION / 100000
              << "." << BOOST_VERSION / 100 % 1000 << ")\n";
    return pswm::cli::exit_ok;
  }
  for (const auto& c : commands) {
    if (first != c.name) continue;
    std::string prog = std::string("pswm ") + c.name;
    std::vector<char*> sub_argv(argv + 1, argv + argc);
    sub_argv[0] = prog.data();
    sub_argv.push_back(nullptr);
    try {
      return c.fn(argc - 1, sub_argv.data());
    } catch (const pswm::cli::usage_error& e) {
      std::cerr << prog << ": " << e.what() << "\n";
      return pswm::cli::exit_usage;
    } catch (const std::exception& e) {
      std::cerr << prog << ": error: " << e.what() << "\n";
      return pswm::cli::exit_failure;
    }
  }
  std::cerr << "pswm: unknown command '" << first << "'\n\n";
  print_usage(std::cerr);
  return pswm::cli::exit_usage;
}
