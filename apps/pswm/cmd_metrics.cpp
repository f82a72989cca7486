// SPDX-License-Identifier: MIT
// pswm metrics: placeholder until its issue (the protocol layer) lands.
#include "cli.hpp"
#include "commands.hpp"

namespace pswm {

int cmd_metrics(int argc, char** argv) {
  cli::po::options_description options("Options");
  int code = cli::exit_ok;
  if (!cli::parse(argc, argv, "Usage: pswm metrics [options]", options, nullptr, code)) return code;
  return cli::not_available("metrics", "the protocol layer");
}

}  // namespace pswm
