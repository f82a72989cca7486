// SPDX-License-Identifier: MIT
// Compiles the ZeroMQ shells of the KV events: the emulator's publisher and the runner's subscriber (the only TU with zmq.h).
#include <planetserve/sim/impl/kv_event_publisher.ipp>
#include <planetserve/experiment/impl/kv_event_subscriber.ipp>
