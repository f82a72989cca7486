// SPDX-License-Identifier: MIT
// pswm gen: placeholder until its issue (datasets) lands.
#include "cli.hpp"
#include "commands.hpp"

namespace pswm {

int cmd_gen(int argc, char** argv) {
  cli::po::options_description options("Options");
  int code = cli::exit_ok;
  if (!cli::parse(argc, argv, "Usage: pswm gen [options]", options, nullptr, code)) return code;
  return cli::not_available("gen", "datasets");
}

}  // namespace pswm
