// SPDX-License-Identifier: MIT
// detail::zmq_socket: a ZeroMQ socket (C API) that an Asio coroutine can wait on, without a thread.
#pragma once
// Included only by src/kvevents_zmq.cpp: zmq.h stays out of every public header.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>

#include <zmq.h>

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace planetserve::detail {

// One ZeroMQ context for the process: its I/O thread is ZeroMQ's own; our sockets are used
// only from the io_context's thread.
inline std::shared_ptr<void> zmq_context() {
  static std::weak_ptr<void> shared;
  if (auto c = shared.lock()) return c;
  std::shared_ptr<void> c(zmq_ctx_new(), [](void* p) { zmq_ctx_term(p); });
  shared = c;
  return c;
}

// A socket whose readiness Asio watches through ZMQ_FD. That descriptor signals "look at
// ZMQ_EVENTS" edge-style, so the owner drains with recv() until it returns false before each
// async_readable(): the classic way to put ZeroMQ on an event loop without a thread.
class zmq_socket {
 public:
  zmq_socket(boost::asio::any_io_executor ex, int type)
      : ctx_(zmq_context()), s_(::zmq_socket(ctx_.get(), type)), fd_(ex) {
    int linger = 0;
    zmq_setsockopt(s_, ZMQ_LINGER, &linger, sizeof linger);
    int fd = -1;
    std::size_t len = sizeof fd;
    if (zmq_getsockopt(s_, ZMQ_FD, &fd, &len) == 0) {
      // Asio gets its own descriptor to close: ZeroMQ closes the original.
      boost::system::error_code ec;
      fd_.assign(::dup(fd), ec);
    }
  }
  ~zmq_socket() { close(); }
  zmq_socket(const zmq_socket&) = delete;
  zmq_socket& operator=(const zmq_socket&) = delete;

  void* get() const noexcept { return s_; }
  explicit operator bool() const noexcept { return s_ != nullptr; }

  void close() noexcept {
    boost::system::error_code ec;
    fd_.close(ec);
    if (s_) zmq_close(s_);
    s_ = nullptr;
  }

  // "" on success, else ZeroMQ's message.
  std::string bind(const std::string& endpoint) {
    return zmq_bind(s_, endpoint.c_str()) == 0 ? std::string() : std::string(zmq_strerror(zmq_errno()));
  }
  std::string connect(const std::string& endpoint) {
    return zmq_connect(s_, endpoint.c_str()) == 0 ? std::string() : std::string(zmq_strerror(zmq_errno()));
  }
  std::string last_endpoint() const {
    char buf[512];
    std::size_t len = sizeof buf;
    if (zmq_getsockopt(s_, ZMQ_LAST_ENDPOINT, buf, &len) != 0 || len == 0) return {};
    return std::string(buf, len - 1);  // the length counts the terminating NUL
  }
  void set(int option, const void* value, std::size_t size) { zmq_setsockopt(s_, option, value, size); }
  // Publishes this socket's `events` (ZMQ_EVENT_*) on a PAIR socket bound at `inproc_endpoint`.
  std::string monitor(const std::string& inproc_endpoint, int events) {
    return zmq_socket_monitor(s_, inproc_endpoint.c_str(), events) == 0 ? std::string()
                                                                      : std::string(zmq_strerror(zmq_errno()));
  }

  // One whole multipart message if one is waiting; false otherwise (never blocks).
  bool recv(std::vector<std::vector<std::uint8_t>>& frames) {
    frames.clear();
    for (;;) {
      zmq_msg_t m;
      zmq_msg_init(&m);
      if (zmq_msg_recv(&m, s_, frames.empty() ? ZMQ_DONTWAIT : 0) < 0) {
        zmq_msg_close(&m);
        return !frames.empty();
      }
      const auto* p = static_cast<const std::uint8_t*>(zmq_msg_data(&m));
      frames.emplace_back(p, p + zmq_msg_size(&m));
      const bool more = zmq_msg_more(&m) != 0;
      zmq_msg_close(&m);
      if (!more) return true;
    }
  }

  // Sends the frames as one message without blocking; false if ZeroMQ refused (high-water
  // mark, no peer): a PUB socket drops then, as vLLM's does.
  bool send(std::initializer_list<std::span<const std::uint8_t>> frames) {
    std::size_t i = 0;
    for (const auto& f : frames) {
      const int flags = ZMQ_DONTWAIT | (++i < frames.size() ? ZMQ_SNDMORE : 0);
      if (zmq_send(s_, f.data(), f.size(), flags) < 0) return false;
    }
    return true;
  }

  // Waits until ZeroMQ may have something to read (then drain with recv()).
  boost::asio::awaitable<boost::system::error_code> async_readable() {
    if (readable()) co_return boost::system::error_code{};
    auto [ec] = co_await fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                        boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return ec;
  }

  // Whether a message is waiting (ZMQ_EVENTS has POLLIN).
  bool readable() const {
    if (!s_) return false;
    int events = 0;
    std::size_t len = sizeof events;
    return zmq_getsockopt(s_, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN) != 0;
  }

  // Wakes async_readable() with operation_aborted.
  void cancel() noexcept {
    boost::system::error_code ec;
    fd_.cancel(ec);
  }

 private:
  std::shared_ptr<void> ctx_;
  void* s_;
  boost::asio::posix::stream_descriptor fd_;
};

}  // namespace planetserve::detail
