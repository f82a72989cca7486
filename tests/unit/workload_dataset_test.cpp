// SPDX-License-Identifier: MIT
// Tests for the JSONL workload reader: good files, every kind of bad input, skipping, writing.
#include <planetserve/workload/dataset.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

namespace ws = planetserve::workload;
using planetserve::error;

namespace {

const std::string data_dir = std::string(PLANETSERVE_TEST_DATA_DIR) + "/workload/";

ws::dataset read_ok(const std::string& name, ws::dataset_config config = {}) {
  planetserve::diagnostics diag;
  auto d = ws::read_dataset(data_dir + name, config, diag);
  INFO(diag.message);
  REQUIRE(d.has_value());
  return std::move(*d);
}

/// Reads `name` expecting failure; returns the diagnostics text.
std::string read_fail(const std::string& path, error expected, ws::dataset_config config = {}) {
  planetserve::diagnostics diag;
  auto d = ws::read_dataset(path, config, diag);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error() == make_error_code(expected));
  return diag.message;
}

std::string parse_fail(std::string_view text, error expected, ws::dataset_config config = {}) {
  planetserve::diagnostics diag;
  auto d = ws::parse_dataset(text, "mem.jsonl", config, diag);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error() == make_error_code(expected));
  return diag.message;
}

/// A scratch directory removed at the end of the test.
struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() /
           ("pswm_workload_" + tag + "_" + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, std::string_view bytes) const {
    const auto p = path / name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p.string();
  }
};

}  // namespace

TEST_CASE("workload dataset: reads the workload field, skipping blank lines and CRLF endings", "[workload]") {
  const auto d = read_ok("good.jsonl");
  REQUIRE(d.prompts.size() == 3);
  CHECK(d.prompts[0].text == "Explain what TTFT measures.");
  CHECK(d.prompts[0].line == 1);
  CHECK(d.prompts[1].text == "Summarize prefix caching in one paragraph.");
  CHECK(d.prompts[1].line == 3);  // line 2 is blank but still counts
  CHECK(d.prompts[2].text == "Caf\xC3\xA9 \"quoted\" text\nwith a newline.");
  CHECK(d.prompts[2].line == 4);
  CHECK(d.prompts[0].messages.empty());
  CHECK(d.lines == 3);
  CHECK(d.skipped == 0);
  CHECK(d.field == "workload");
}

TEST_CASE("workload dataset: --field picks prompt or text", "[workload]") {
  ws::dataset_config c;
  c.field = "prompt";
  auto d = read_ok("fields.jsonl", c);
  REQUIRE(d.prompts.size() == 2);
  CHECK(d.prompts[1].text == "second by prompt");
  c.field = "text";
  d = read_ok("fields.jsonl", c);
  CHECK(d.prompts[0].text == "first by text");
}

TEST_CASE("workload dataset: a messages array is kept and its contents joined", "[workload]") {
  ws::dataset_config c;
  c.field = "messages";
  const auto d = read_ok("messages.jsonl", c);
  REQUIRE(d.prompts.size() == 2);
  REQUIRE(d.prompts[0].messages.size() == 2);
  CHECK(d.prompts[0].messages[0].role == "system");
  CHECK(d.prompts[0].messages[1].content == "Name a prime.");
  CHECK(d.prompts[0].text == "You are terse.\nName a prime.");
  REQUIRE(d.prompts[1].messages.size() == 1);
  CHECK(d.prompts[1].messages[0].content == "Part one. Part two.");
  CHECK(d.prompts[1].text == "Part one. Part two.");
}

TEST_CASE("workload dataset: bad messages arrays name the element", "[workload]") {
  ws::dataset_config c;
  c.field = "messages";
  CHECK_THAT(parse_fail(R"({"messages": [{"content": "x"}]})", error::missing_field, c),
             Catch::Contains("mem.jsonl:1:") && Catch::Contains("messages[0] has no \"role\""));
  CHECK_THAT(parse_fail(R"({"messages": [{"role": "user", "content": 3}]})", error::wrong_field_type, c),
             Catch::Contains("messages[0].content is a number"));
  CHECK_THAT(parse_fail(R"({"messages": ["hi"]})", error::wrong_field_type, c),
             Catch::Contains("messages[0] is a string"));
  CHECK_THAT(parse_fail(R"({"messages": []})", error::empty_input, c), Catch::Contains("empty messages array"));
}

TEST_CASE("workload dataset: invalid JSON names file:line", "[workload]") {
  const auto msg = read_fail(data_dir + "bad_json.jsonl", error::invalid_json);
  CHECK_THAT(msg, Catch::Contains("bad_json.jsonl:2:") && Catch::Contains("invalid JSON at the end of the line"));
  CHECK_THAT(parse_fail("{\"workload\": \"a\"} extra\n", error::invalid_json), Catch::Contains("at byte 19"));
  CHECK_THAT(parse_fail("[1, 2]\n", error::invalid_json), Catch::Contains("mem.jsonl:1:") && Catch::Contains("an array"));
}

TEST_CASE("workload dataset: a missing field names file:line and the keys present", "[workload]") {
  const auto msg = read_fail(data_dir + "missing_field.jsonl", error::missing_field);
  CHECK_THAT(msg, Catch::Contains("missing_field.jsonl:3:") && Catch::Contains("\"workload\"") &&
                      Catch::Contains("\"prompt\"") && Catch::Contains("--field"));
}

TEST_CASE("workload dataset: a field that is not a string names file:line and the type", "[workload]") {
  const auto msg = read_fail(data_dir + "wrong_type.jsonl", error::wrong_field_type);
  CHECK_THAT(msg, Catch::Contains("wrong_type.jsonl:2:") && Catch::Contains("is a number"));
  CHECK_THAT(parse_fail(R"({"workload": null})", error::wrong_field_type), Catch::Contains("null"));
  CHECK_THAT(parse_fail(R"({"workload": ""})", error::empty_input), Catch::Contains("mem.jsonl:1:") && Catch::Contains("empty string"));
}

TEST_CASE("workload dataset: invalid UTF-8 names file:line", "[workload]") {
  const auto msg = read_fail(data_dir + "invalid_utf8.jsonl", error::invalid_utf8);
  CHECK_THAT(msg, Catch::Contains("invalid_utf8.jsonl:2:") && Catch::Contains("byte 19"));
  // Overlong encoding, surrogate, past U+10FFFF, truncated sequence.
  for (std::string_view bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"}) {
    std::string line = "{\"workload\": \"x";
    line += bad;
    line += "\"}";
    parse_fail(line, error::invalid_utf8);
  }
  // Valid multi-byte text passes: 2-, 3- and 4-byte sequences.
  planetserve::diagnostics diag;
  CHECK(ws::parse_dataset("{\"workload\": \"\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}", "m", {}, diag).has_value());
}

TEST_CASE("workload dataset: a line over the limit is line_too_long; the limit itself is fine", "[workload]") {
  ws::dataset_config c;
  const std::string line = "{\"workload\": \"" + std::string(100, 'x') + "\"}";  // 116 bytes
  c.max_line_bytes = line.size();
  planetserve::diagnostics diag;
  CHECK(ws::parse_dataset(line + "\r\n", "m", c, diag).has_value());  // the line ending does not count
  c.max_line_bytes = line.size() - 1;
  CHECK_THAT(parse_fail("{\"workload\": \"ok\"}\n" + line + "\n", error::line_too_long, c),
             Catch::Contains("mem.jsonl:2:") && Catch::Contains("116 bytes") && Catch::Contains("limit of 115"));
}

TEST_CASE("workload dataset: skip_bad_lines counts and reports skipped lines", "[workload]") {
  ws::dataset_config c;
  c.skip_bad_lines = true;
  const auto d = read_ok("some_bad.jsonl", c);
  REQUIRE(d.prompts.size() == 3);
  CHECK(d.prompts[0].text == "one");
  CHECK(d.prompts[1].text == "two");
  CHECK(d.prompts[1].line == 4);
  CHECK(d.prompts[2].text == "three");
  CHECK(d.skipped == 4);
  CHECK(d.lines == 7);
  REQUIRE(d.skip_reasons.size() == 4);
  CHECK_THAT(d.skip_reasons[0], Catch::Contains("some_bad.jsonl:2:") && Catch::Contains("invalid JSON"));
  CHECK_THAT(d.skip_reasons[1], Catch::Contains("some_bad.jsonl:3:"));
  CHECK_THAT(d.skip_reasons[3], Catch::Contains("some_bad.jsonl:6:") && Catch::Contains("missing field"));
  // Without the option the same file fails on line 2.
  CHECK_THAT(read_fail(data_dir + "some_bad.jsonl", error::invalid_json), Catch::Contains("some_bad.jsonl:2:"));
}

TEST_CASE("workload dataset: only the first few skip reasons are kept", "[workload]") {
  ws::dataset_config c;
  c.skip_bad_lines = true;
  std::string text;
  for (int i = 0; i < 25; ++i) text += "oops\n";
  text += "{\"workload\": \"survivor\"}\n";
  planetserve::diagnostics diag;
  auto d = ws::parse_dataset(text, "m", c, diag);
  REQUIRE(d.has_value());
  CHECK(d->skipped == 25);
  CHECK(d->skip_reasons.size() == ws::max_skip_reasons);
  CHECK(d->prompts.size() == 1);
}

TEST_CASE("workload dataset: every line bad under skip_bad_lines is empty_input", "[workload]") {
  ws::dataset_config c;
  c.skip_bad_lines = true;
  CHECK_THAT(parse_fail("x\n{\"a\": 1}\n", error::empty_input, c),
             Catch::Contains("all 2 lines are bad") && Catch::Contains("mem.jsonl:1:"));
}

TEST_CASE("workload dataset: missing, empty, blank and directory paths name the file", "[workload]") {
  CHECK_THAT(read_fail(data_dir + "no_such_file.jsonl", error::file_not_found),
             Catch::Contains("no_such_file.jsonl") && Catch::Contains("no such file"));
  CHECK_THAT(read_fail(data_dir + "empty.jsonl", error::empty_input),
             Catch::Contains("empty.jsonl") && Catch::Contains("is empty"));
  CHECK_THAT(read_fail(data_dir + "blank_only.jsonl", error::empty_input),
             Catch::Contains("blank_only.jsonl") && Catch::Contains("only blank lines"));
  CHECK_THAT(read_fail(data_dir, error::file_unreadable), Catch::Contains("is a directory"));
}

TEST_CASE("workload dataset: binary files are refused with the file named", "[workload]") {
  temp_dir dir("binary");
  const std::string nul("{\"workload\": \"a\"}\n\0\0\0\x01\x02", 23);
  CHECK_THAT(read_fail(dir.write("nul.jsonl", nul), error::binary_file),
             Catch::Contains("nul.jsonl") && Catch::Contains("NUL"));
  CHECK_THAT(read_fail(dir.write("gz.jsonl", std::string("\x1F\x8B\x08\x00rest", 8)), error::binary_file),
             Catch::Contains("gz.jsonl") && Catch::Contains("gzip"));
  CHECK_THAT(read_fail(dir.write("u16.jsonl", std::string("\xFF\xFE{\0\"\0", 6)), error::binary_file),
             Catch::Contains("u16.jsonl") && Catch::Contains("UTF-16"));
}

TEST_CASE("workload dataset: a UTF-8 byte order mark is ignored", "[workload]") {
  planetserve::diagnostics diag;
  auto d = ws::parse_dataset("\xEF\xBB\xBF{\"workload\": \"bom\"}\n", "m", {}, diag);
  REQUIRE(d.has_value());
  CHECK(d->prompts.at(0).text == "bom");
}

TEST_CASE("workload dataset: max_prompts stops early", "[workload]") {
  ws::dataset_config c;
  c.max_prompts = 2;
  const auto d = read_ok("good.jsonl", c);
  CHECK(d.prompts.size() == 2);
}

TEST_CASE("workload dataset: written JSONL reads back exactly, under any field name", "[workload]") {
  const std::vector<std::string> prompts = {"plain", "quote \" backslash \\ tab \t newline \n end",
                                            "control \x01 char", "Caf\xC3\xA9 \xF0\x9F\x98\x80"};
  temp_dir dir("roundtrip");
  const auto path = dir.path / "out.jsonl";
  planetserve::diagnostics diag;
  REQUIRE_FALSE(ws::write_dataset(path, prompts, "prompt", diag));
  ws::dataset_config c;
  c.field = "prompt";
  auto d = ws::read_dataset(path, c, diag);
  REQUIRE(d.has_value());
  REQUIRE(d->prompts.size() == prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) CHECK(d->prompts[i].text == prompts[i]);
  CHECK(ws::to_jsonl({"hi"}, "workload") == "{\"workload\": \"hi\"}\n");
}

TEST_CASE("workload dataset: writing into a missing folder is file_unwritable", "[workload]") {
  planetserve::diagnostics diag;
  const auto ec = ws::write_dataset("/nonexistent-dir-pswm/x.jsonl", {"a"}, "workload", diag);
  CHECK(ec == make_error_code(error::file_unwritable));
  CHECK_THAT(diag.message, Catch::Contains("/nonexistent-dir-pswm/x.jsonl"));
}
