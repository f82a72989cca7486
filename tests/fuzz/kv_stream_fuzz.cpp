// SPDX-License-Identifier: MIT
// libFuzzer entry for kvevents::event_stream: the input's bytes pick what the publisher and the network do
// (event_stream_model.hpp); the stream must never call an index exact that is not.
#include "event_stream_model.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::size_t at = 0;
  event_stream_model::scenario s([&]() -> std::uint8_t { return at < size ? data[at++] : 0; });
  const std::string failure = s.run(size);
  if (!failure.empty()) {
    std::fprintf(stderr, "event_stream: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
