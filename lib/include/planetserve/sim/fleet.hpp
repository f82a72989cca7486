// SPDX-License-Identifier: MIT
// sim::fleet: N emulated vLLM nodes on consecutive ports in the caller's io_context.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/sim/node_server.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace planetserve::sim {

/// Where and how many nodes to start.
struct fleet_config {
  std::size_t num_nodes = 1;         ///< --num-nodes
  std::string host = "127.0.0.1";    ///< --host: the address every node binds
  std::uint16_t base_port = 0;       ///< --base-port: node i listens on base_port + i; 0: ephemeral ports
  node_config node;                  ///< every node's config; node i's engine and fault seeds get + i, its KV-events ports + i
  /// Node `i`'s config: `node` with its seeds offset by `i`.
  node_config node_at(std::size_t i) const;
};

/// Independent nodes sharing one executor. Start them, read their URLs, stop them.
class fleet {
 public:
  /// A fleet on `ex`; nothing listens until start().
  fleet(boost::asio::any_io_executor ex, fleet_config config);
  ~fleet();
  fleet(const fleet&) = delete;
  fleet& operator=(const fleet&) = delete;

  /// Builds and binds every node. On failure (bad config, port in use) the nodes already
  /// started are stopped and `diag` names the node and address.
  boost::system::error_code start(diagnostics& diag);

  /// Number of running nodes.
  std::size_t size() const noexcept { return nodes_.size(); }
  /// Node `i` (0-based).
  node_server& node(std::size_t i) { return *nodes_.at(i); }
  /// Node `i` (0-based).
  const node_server& node(std::size_t i) const { return *nodes_.at(i); }
  /// Node `i`'s bound port.
  std::uint16_t port(std::size_t i) const { return nodes_.at(i)->port(); }
  /// "http://host:port" of every node, in order (IPv6 hosts bracketed).
  std::vector<std::string> urls() const;

  /// Graceful stop of every node (see node_server::async_shutdown), in parallel.
  boost::asio::awaitable<void> async_shutdown(std::chrono::milliseconds grace);
  /// Immediate stop of every node.
  void stop() noexcept;

  /// The settings it was made with.
  const fleet_config& config() const noexcept { return config_; }

 private:
  boost::asio::any_io_executor ex_;
  fleet_config config_;
  std::vector<std::unique_ptr<node_server>> nodes_;
};

}  // namespace planetserve::sim
