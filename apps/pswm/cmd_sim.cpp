// SPDX-License-Identifier: MIT
// pswm sim: placeholder until its issue (the vLLM emulator) lands.
#include "cli.hpp"
#include "commands.hpp"

namespace pswm {

int cmd_sim(int argc, char** argv) {
  cli::po::options_description options("Options");
  int code = cli::exit_ok;
  if (!cli::parse(argc, argv, "Usage: pswm sim [options]", options, nullptr, code)) return code;
  return cli::not_available("sim", "the vLLM emulator");
}

}  // namespace pswm
