// SPDX-License-Identifier: MIT
// pswm report: placeholder until its issue (the experiment pipeline) lands.
#include "cli.hpp"
#include "commands.hpp"

namespace pswm {

int cmd_report(int argc, char** argv) {
  cli::po::options_description options("Options");
  int code = cli::exit_ok;
  if (!cli::parse(argc, argv, "Usage: pswm report [options]", options, nullptr, code)) return code;
  return cli::not_available("report", "the experiment pipeline");
}

}  // namespace pswm
