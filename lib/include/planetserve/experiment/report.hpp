// SPDX-License-Identifier: MIT
// The run's output files as text: experiment_results.json, throughput_records.json, summaries,
// requests.jsonl lines and timeline.json, and reading the last two back for `pswm report`.
#pragma once

#include <planetserve/experiment/node_timeline.hpp>
#include <planetserve/experiment/request_record.hpp>
#include <planetserve/experiment/summary.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <functional>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace planetserve::experiment {

/// One request as an object of experiment_results.json: the seed's fields (query_id,
/// query_number, node_name, generation_time, absolute_start, final_* and *_records read off
/// the node's scrapes while the request ran) and ours (times, tokens, status, decision).
boost::json::object result_object(const request_record& r, std::span<const node_timeline> timelines);

/// experiment_results.json: every request in query order.
std::string experiment_results_json(std::span<const request_record> records,
                                    std::span<const node_timeline> timelines);
/// The same, for records held elsewhere (e.g. sorted pointers instead of a sorted copy).
std::string experiment_results_json(std::span<const request_record* const> records,
                                    std::span<const node_timeline> timelines);

/// experiment_results.json piece by piece, for a run too large to hold the file in memory:
/// `write` gets the text in order (the same text as experiment_results_json), and `each`,
/// when given, every request's object and its index before the object's text.
void write_experiment_results(std::span<const request_record* const> records, std::span<const node_timeline> timelines,
                              const std::function<void(std::string_view)>& write,
                              const std::function<void(const boost::json::object&, std::size_t)>& each = {});

/// throughput_records.json's rows as a document (see throughput_records_json). Rows are at
/// most four per scrape of a node (at least 10,000): a sparse timeline spanning far longer
/// (a damaged timeline.json read back) gets a row every few ticks.
boost::json::array throughput_records(std::span<const node_timeline> timelines, double tick_s);

/// throughput_records.json: every `tick_s`, the seed's {elapsed, prompt_tokens, gen_tokens,
/// request_success} summed over nodes (cumulative since the run started), plus per-node
/// values, KV usage, running and waiting.
std::string throughput_records_json(std::span<const node_timeline> timelines, double tick_s);

/// summary.json.
std::string summary_json(const run_summary& s);

/// The summary as printed and saved in <dataset>_summary.txt: the seed's lines first, then
/// ours, each marked client-side or server-side.
std::string summary_text(const run_summary& s);

/// A side-by-side table of several policies' summaries.
std::string comparison_text(std::span<const run_summary> runs);
/// compare.json: every policy's summary.
std::string comparison_json(std::span<const run_summary> runs);

/// One line of requests.jsonl: the whole record, enough to rebuild it.
std::string record_line(const request_record& r);
/// Reads a requests.jsonl line back; errors say what was wrong.
result<request_record> parse_record_line(std::string_view line, diagnostics& diag);

/// timeline.json: every node's scrapes (the raw counters), so a run can be re-reported.
std::string timelines_json(std::span<const node_timeline> timelines);
/// Reads timeline.json back.
result<std::vector<node_timeline>> parse_timelines_json(std::string_view text, diagnostics& diag);

/// Reads metrics_timeline.jsonl back (the scrapes a run appended as it went: all a killed run
/// leaves): one timeline per node_K named in it, K indexing `urls`. Lines that cannot be read
/// (a torn last line) are counted in `bad_lines`; none readable is invalid_json.
result<std::vector<node_timeline>> parse_metrics_timeline_jsonl(std::string_view text,
                                                                std::span<const std::string> urls,
                                                                std::size_t& bad_lines, diagnostics& diag);

}  // namespace planetserve::experiment
