// SPDX-License-Identifier: MIT
// `pswm run --sim`: starting emulated nodes in-process.
#include "sim_fleet_option.hpp"

namespace pswm {

void sim_fleet_option::add_options(cli::po::options_description& opts) {
  opts.add_options()
      ("sim", cli::po::bool_switch(&enabled), "start --num-nodes emulated vLLM nodes in this process (no GPU needed)")
      ("sim-profile", cli::po::value(&profile)->default_value(profile), "emulator profile (see `pswm sim --help`)")
      ("num-gpu-blocks-override", cli::po::value(&num_gpu_blocks_override)->default_value(0),
       "with --sim: KV-cache blocks per emulated node (0: the profile's); small values put the cache under pressure");
}

struct sim_fleet_handle::impl {};

sim_fleet_handle::sim_fleet_handle() = default;
sim_fleet_handle::~sim_fleet_handle() = default;

boost::system::error_code sim_fleet_handle::start(boost::asio::any_io_executor, const sim_fleet_option&,
                                                  unsigned, const std::string&, unsigned,
                                                  const std::string&, std::uint64_t,
                                                  planetserve::diagnostics& diag) {
  diag.message = "the in-process emulator is not in this build yet; start `pswm sim` separately";
  return planetserve::error::invalid_argument;
}

std::vector<std::string> sim_fleet_handle::urls() const { return {}; }

boost::asio::awaitable<void> sim_fleet_handle::async_stop() { co_return; }

}  // namespace pswm
