// SPDX-License-Identifier: MIT
// pswm run: placeholder until its issue (the experiment pipeline) lands.
#include "cli.hpp"
#include "commands.hpp"

namespace pswm {

int cmd_run(int argc, char** argv) {
  cli::po::options_description options("Options");
  int code = cli::exit_ok;
  if (!cli::parse(argc, argv, "Usage: pswm run [options]", options, nullptr, code)) return code;
  return cli::not_available("run", "the experiment pipeline");
}

}  // namespace pswm
