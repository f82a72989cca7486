// SPDX-License-Identifier: MIT
// Shared option parsing for pswm subcommands: --help, errors that name the flag, exit codes.
#pragma once

#include <boost/algorithm/string/split.hpp>
#include <boost/algorithm/string/trim.hpp>
#include <boost/program_options.hpp>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace pswm::cli {

namespace po = boost::program_options;

/// Exit codes shared by every subcommand.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  ///< the command ran and something failed
inline constexpr int exit_usage = 2;    ///< bad flags or arguments
inline constexpr int exit_incomplete = 3;  ///< the command ran, but some outputs are missing or partial

/// Thrown by commands for a flag value that is out of range; main prints it and exits 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Parses argv against `options` (and `positional`), handling --help.
/// Returns nullopt when the command should exit with *exit_code (help printed or bad flags).
inline std::optional<po::variables_map> parse(int argc, char** argv, const std::string& usage,
                                              po::options_description& options,
                                              const po::positional_options_description* positional,
                                              int& exit_code) {
  options.add_options()("help,h", "show this help and exit");
  po::variables_map vm;
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(options);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << options << "\n";
      exit_code = exit_ok;
      return std::nullopt;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n"
              << "Try '" << argv[0] << " --help' for the list of options.\n";
    exit_code = exit_usage;
    return std::nullopt;
  }
  return vm;
}


/// The non-empty, trimmed items of a comma-separated flag value ("a, b,,c" -> a, b, c).
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> parts;
  boost::algorithm::split(parts, s, [](char c) { return c == ','; });
  std::vector<std::string> out;
  for (auto& p : parts) {
    boost::algorithm::trim(p);
    if (!p.empty()) out.push_back(p);
  }
  return out;
}

}  // namespace pswm::cli
