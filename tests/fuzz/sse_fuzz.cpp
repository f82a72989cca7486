// SPDX-License-Identifier: MIT
// libFuzzer target: the SSE parser must give the same events however the input is split.
#include <planetserve/http/sse_parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct result {
  std::vector<std::string> events;  // type '\x1f' data '\x1f' id
  bool failed = false;
};

result run(std::string_view input, std::string_view splits) {
  planetserve::http::sse_parser p(planetserve::http::sse_limits{4096});
  result r;
  auto cb = [&](const planetserve::http::sse_event& e) {
    std::string s(e.type);
    s += '\x1f';
    s.append(e.data);
    s += '\x1f';
    s.append(e.id);
    r.events.push_back(std::move(s));
  };
  std::size_t i = 0;
  while (!input.empty()) {
    std::size_t n = splits.empty() ? input.size()
                                   : 1 + static_cast<unsigned char>(splits[i++ % splits.size()]) % 16;
    n = std::min(n, input.size());
    if (p.feed(input.substr(0, n), cb)) {
      r.failed = true;
      return r;
    }
    input.remove_prefix(n);
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first 8 bytes choose the split sizes; the rest is the stream.
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::string_view splits = all.substr(0, std::min<std::size_t>(8, all.size()));
  std::string_view input = all.substr(splits.size());
  const result whole = run(input, {});
  const result pieces = run(input, splits);
  if (whole.failed != pieces.failed) std::abort();
  if (!whole.failed && whole.events != pieces.events) std::abort();
  return 0;
}
