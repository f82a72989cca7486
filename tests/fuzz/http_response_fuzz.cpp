// SPDX-License-Identifier: MIT
// libFuzzer target: HTTP/1.1 response framing through Beast's parser, fed the way the client feeds it.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace bhttp = boost::beast::http;

// Returns the decoded body, or nullopt if the parser rejected the input or it ended early.
// `step` bytes are offered per put() (0: everything at once), and the body buffer is `room`
// bytes, so that need_buffer and need_more both happen.
std::optional<std::string> parse(std::string_view input, std::size_t step, std::size_t room) {
  bhttp::response_parser<bhttp::buffer_body> p;
  p.header_limit(8192);
  p.body_limit(1 << 20);
  std::string pending;  // bytes offered but not consumed, as in the client's flat_buffer
  std::string body;
  std::array<char, 64> buf;
  room = std::max<std::size_t>(1, std::min(room, buf.size()));
  bool header = true;
  while (true) {
    if (!input.empty()) {
      std::size_t n = step == 0 ? input.size() : std::min(step, input.size());
      pending.append(input.substr(0, n));
      input.remove_prefix(n);
    }
    for (;;) {
      if (p.is_done() || pending.empty()) break;
      if (!header) {
        p.get().body().data = buf.data();
        p.get().body().size = room;
      }
      boost::system::error_code ec;
      std::size_t used = p.put(boost::asio::buffer(pending), ec);
      pending.erase(0, used);
      std::size_t produced = 0;
      if (!header) {
        produced = room - p.get().body().size;
        body.append(buf.data(), produced);
      }
      if (p.is_header_done() && header) {
        header = false;
        p.eager(true);
      }
      if (ec == bhttp::error::need_more) break;
      if (ec && ec != bhttp::error::need_buffer) return std::nullopt;
      if (used == 0 && produced == 0) break;
    }
    if (p.is_done()) return body;
    if (input.empty()) {
      boost::system::error_code ec;
      p.put_eof(ec);
      if (ec || !p.is_done()) return std::nullopt;
      return body;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t step = data[0] % 23;
  const std::size_t room = 1 + data[1] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  auto whole = parse(input, 0, 64);
  auto split = parse(input, step, room);
  // However the bytes arrive and however small the body buffer, the framing must agree.
  if (whole.has_value() != split.has_value()) std::abort();
  if (whole && *whole != *split) std::abort();
  return 0;
}
