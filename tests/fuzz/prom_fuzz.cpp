// SPDX-License-Identifier: MIT
// libFuzzer entry for the Prometheus text parser: no crash, and the same verdict however the bytes are split.
#include <planetserve/prom/page.hpp>
#include <planetserve/prom/parser.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

namespace prom = planetserve::prom;

// Every event as text, so two parses of the same bytes can be compared.
struct recorder final : prom::sample_sink {
  std::string log;
  void on_metadata(const prom::metadata_view& m) override {
    log += 'M';
    log += m.family;
    log += '|';
    log += m.text;
    log += '|';
    log += std::to_string(static_cast<int>(m.type));
    log += '\n';
  }
  void on_sample(const prom::sample_view& s) override {
    log += s.name;
    log += '|';
    log += s.family;
    for (const auto& l : s.labels) {
      log += l.name;
      log += '=';
      log += l.value;
      log += ',';
    }
    // Compare bit patterns: NaN != NaN would flag equal parses.
    char buf[64];
    const auto n = std::snprintf(buf, sizeof buf, "|%a|%a|%d|%zu\n", s.value, s.bound,
                                 static_cast<int>(s.kind), s.line);
    log.append(buf, static_cast<std::size_t>(n));
  }
};

struct verdict {
  std::string log;
  boost::system::error_code ec;
  std::string message;
};

template <class Feed>
verdict run(Feed feed) {
  recorder r;
  // Default limits: parse_vllm_snapshot() below uses them too, and the verdicts are compared.
  prom::parser p(r);
  feed(p);
  verdict v;
  v.ec = p.finish();
  v.log = std::move(r.log);
  v.message = p.diag().message;
  return v;
}

bool same(const verdict& a, const verdict& b) {
  return a.ec == b.ec && a.log == b.log && a.message == b.message;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const verdict whole = run([&](prom::parser& p) { p.feed(in); });

  const std::size_t cut = size == 0 ? 0 : (static_cast<std::size_t>(data[0]) * 7919u + size) % (size + 1);
  const verdict two = run([&](prom::parser& p) {
    p.feed(in.substr(0, cut));
    p.feed(in.substr(cut));
  });
  if (!same(whole, two)) std::abort();

  if (size <= 1024) {
    const verdict bytes = run([&](prom::parser& p) {
      for (std::size_t i = 0; i < size; ++i) p.feed(in.substr(i, 1));
    });
    if (!same(whole, bytes)) std::abort();
  }

  // The models on top must agree with the parser's verdict and never crash.
  auto snap = prom::parse_vllm_snapshot(in);
  if (snap.has_value() == static_cast<bool>(whole.ec)) std::abort();
  if (snap) (void)prom::to_json(*snap);
  if (auto pg = prom::parse_page(in)) {
    for (const auto& f : pg->families) {
      const auto series = prom::histograms(f);
      for (const auto& h : series)
        for (std::size_t i = 1; i < h.buckets.size(); ++i)
          if (h.buckets[i - 1].le > h.buckets[i].le) std::abort();
    }
  }
  return 0;
}
