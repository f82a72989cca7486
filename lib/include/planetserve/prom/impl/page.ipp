// SPDX-License-Identifier: MIT
// prom::page bodies: building the model from parser events and grouping histogram series.
#pragma once

#include <planetserve/prom/page.hpp>

#include <algorithm>

namespace planetserve::prom {

const std::string* sample::label(std::string_view key) const noexcept {
  for (const auto& [k, v] : labels)
    if (k == key) return &v;
  return nullptr;
}

const family* page::find(std::string_view family_name) const noexcept {
  for (const auto& f : families)
    if (f.name == family_name) return &f;
  return nullptr;
}

family& page_builder::get(std::string_view name, metric_type type) {
  // Pages have tens of families and samples arrive grouped: the last one almost always matches.
  for (auto it = page_.families.rbegin(); it != page_.families.rend(); ++it)
    if (it->name == name) return *it;
  family& f = page_.families.emplace_back();
  f.name = std::string(name);
  f.type = type;
  return f;
}

void page_builder::on_metadata(const metadata_view& meta) {
  family& f = get(meta.family, meta.type);
  switch (meta.kind) {
    case metadata_view::what::help:
      f.help = std::string(meta.text);
      break;
    case metadata_view::what::type:
      f.type = meta.type;
      break;
    case metadata_view::what::unit:
      f.unit = std::string(meta.text);
      break;
  }
}

void page_builder::on_sample(const sample_view& s) {
  family& f = get(s.family, s.type);
  sample& out = f.samples.emplace_back();
  out.name = std::string(s.name);
  out.kind = s.kind;
  out.labels.reserve(s.labels.size());
  for (const auto& l : s.labels) out.labels.emplace_back(std::string(l.name), std::string(l.value));
  out.value = s.value;
  out.bound = s.bound;
  if (s.has_timestamp) out.timestamp = s.timestamp;
  out.line = s.line;
}

page page_builder::take() {
  page out = std::move(page_);
  page_ = {};
  return out;
}

std::vector<histogram_series> histograms(const family& f) {
  std::vector<histogram_series> out;
  std::vector<std::pair<std::string, std::string>> key;
  for (const sample& s : f.samples) {
    key.clear();
    for (const auto& l : s.labels)
      if (!(s.kind == sample_kind::bucket && l.first == "le")) key.push_back(l);
    std::sort(key.begin(), key.end());
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const histogram_series& h) { return h.labels == key; });
    if (it == out.end()) {
      out.emplace_back().labels = key;
      it = out.end() - 1;
    }
    switch (s.kind) {
      case sample_kind::bucket: it->buckets.push_back({s.bound, s.value}); break;
      case sample_kind::sum: it->sum = s.value; break;
      case sample_kind::count: it->count = s.value; break;
      case sample_kind::created: it->created = s.value; break;
      default: break;
    }
  }
  for (auto& h : out)
    std::stable_sort(h.buckets.begin(), h.buckets.end(),
                     [](const bucket& a, const bucket& b) { return a.le < b.le; });
  return out;
}

result<page> parse_page(std::string_view text, diagnostics* diag) {
  page_builder builder;
  parser p(builder);
  p.feed(text);
  if (auto ec = p.finish()) {
    if (diag) *diag = p.diag();
    return ec;
  }
  page out = builder.take();
  out.eof = p.saw_eof();
  return out;
}

}  // namespace planetserve::prom
