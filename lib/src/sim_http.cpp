// SPDX-License-Identifier: MIT
// Compiles the vLLM emulator's HTTP front: node_server and fleet (kept apart from sim.cpp, the sans-io core).
#include <planetserve/sim/impl/node_server.ipp>
#include <planetserve/sim/impl/fleet.ipp>
