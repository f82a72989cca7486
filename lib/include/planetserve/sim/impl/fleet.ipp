// SPDX-License-Identifier: MIT
// Compiled body of sim::fleet.
#pragma once

#include <planetserve/sim/fleet.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <stdexcept>

namespace planetserve::sim {

namespace detail {
// vLLM's offset_endpoint_port: node i's KV-events endpoint is the configured one with its
// port + i (a wildcard port or a non-TCP endpoint stays as it is).
inline std::string offset_endpoint_port(const std::string& endpoint, std::size_t i) {
  if (i == 0 || !endpoint.starts_with("tcp://")) return endpoint;
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon + 1 >= endpoint.size()) return endpoint;
  const std::string digits = endpoint.substr(colon + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 5) return endpoint;
  return endpoint.substr(0, colon + 1) + std::to_string(std::stoul(digits) + i);
}

// Counts nodes still shutting down; the last one wakes the waiter.
struct fleet_join {
  fleet_join(const boost::asio::any_io_executor& ex, std::size_t n) : remaining(n), done(ex) {
    done.expires_at(boost::asio::steady_timer::time_point::max());
  }
  std::size_t remaining;
  boost::asio::steady_timer done;
};
}  // namespace detail

node_config fleet_config::node_at(std::size_t i) const {
  node_config nc = node;
  nc.engine.seed += i;
  nc.faults.seed += i;
  nc.kv_events.endpoint = detail::offset_endpoint_port(nc.kv_events.endpoint, i);
  nc.kv_events.replay_endpoint = detail::offset_endpoint_port(nc.kv_events.replay_endpoint, i);
  nc.engine_index = nc.engine_index.empty() ? "0" : nc.engine_index;
  return nc;
}

fleet::fleet(boost::asio::any_io_executor ex, fleet_config config) : ex_(std::move(ex)), config_(std::move(config)) {}

fleet::~fleet() { stop(); }

boost::system::error_code fleet::start(diagnostics& diag) {
  if (!nodes_.empty()) {
    diag.message = "sim fleet: already started";
    return error::invalid_argument;
  }
  if (config_.num_nodes == 0) {
    diag.message = "sim fleet: num_nodes must be at least 1";
    return error::invalid_argument;
  }
  if (config_.base_port != 0 && config_.base_port + config_.num_nodes - 1 > 65535) {
    diag.message = "sim fleet: ports " + std::to_string(config_.base_port) + ".." +
                   std::to_string(config_.base_port + config_.num_nodes - 1) + " exceed 65535";
    return error::invalid_argument;
  }
  for (std::size_t i = 0; i < config_.num_nodes; ++i) {
    node_config nc = config_.node_at(i);
    std::unique_ptr<node_server> n;
    try {
      n = std::make_unique<node_server>(ex_, std::move(nc));
    } catch (const std::invalid_argument& e) {
      stop();
      nodes_.clear();
      diag.message = std::string("sim node ") + std::to_string(i) + ": " + e.what();
      return error::invalid_argument;
    }
    const auto port = static_cast<std::uint16_t>(config_.base_port == 0 ? 0 : config_.base_port + i);
    diagnostics d;
    auto bound = n->listen(config_.host, port, d);
    if (!bound) {
      stop();
      nodes_.clear();
      diag.message = "sim node " + std::to_string(i) + ": " + d.message;
      return bound.error();
    }
    nodes_.push_back(std::move(n));
  }
  return {};
}

std::vector<std::string> fleet::urls() const {
  std::vector<std::string> out;
  out.reserve(nodes_.size());
  const bool v6 = config_.host.find(':') != std::string::npos;
  for (const auto& n : nodes_)
    out.push_back("http://" + (v6 ? "[" + config_.host + "]" : config_.host) + ":" + std::to_string(n->port()));
  return out;
}

boost::asio::awaitable<void> fleet::async_shutdown(std::chrono::milliseconds grace) {
  // Every node drains at the same time; the fleet is down when the last one is.
  if (nodes_.empty()) co_return;
  auto j = std::make_shared<detail::fleet_join>(ex_, nodes_.size());
  for (auto& n : nodes_) {
    boost::asio::co_spawn(ex_, n->async_shutdown(grace), [j](const std::exception_ptr& e) {
      if (--j->remaining == 0) j->done.cancel();
      if (e) std::rethrow_exception(e);  // a bug in a node's shutdown: out of io_context::run()
    });
  }
  while (j->remaining > 0) co_await j->done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

void fleet::stop() noexcept {
  for (auto& n : nodes_) n->stop();
}

}  // namespace planetserve::sim
