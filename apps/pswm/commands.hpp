// SPDX-License-Identifier: MIT
// The pswm subcommands: each takes its own argv (argv[0] is the command name) and returns the exit code.
#pragma once

namespace pswm {

int cmd_run(int argc, char** argv);
int cmd_sim(int argc, char** argv);
int cmd_gen(int argc, char** argv);
int cmd_metrics(int argc, char** argv);
int cmd_report(int argc, char** argv);
int cmd_decide(int argc, char** argv);
int cmd_route(int argc, char** argv);

}  // namespace pswm
