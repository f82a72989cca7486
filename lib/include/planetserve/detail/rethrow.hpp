// SPDX-License-Identifier: MIT
// co_spawn's completion handler for background coroutines: an escaping exception leaves io_context::run().
#pragma once

#include <exception>

namespace planetserve::detail {

/// Use instead of asio::detached for a coroutine whose exception would be a bug (an accept
/// loop, a connection, the emulator's step loop, a CLI command's body): detached drops the
/// exception and the work silently stops (a server that no longer accepts, an engine that no
/// longer steps, a command that exits 0). Rethrown here, it comes out of io_context::run(),
/// where the CLI reports it and exits non-zero.
struct rethrow_exception {
  void operator()(const std::exception_ptr& e) const {
    if (e) std::rethrow_exception(e);
  }
};

}  // namespace planetserve::detail
