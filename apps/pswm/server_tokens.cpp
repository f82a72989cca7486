// SPDX-License-Identifier: MIT
// `pswm run --tokenizer server`: POST /tokenize per distinct prompt, block size from /metrics.
#include "server_tokens.hpp"

#include <planetserve/http/client.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/openai/server_info.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>

#include <chrono>
#include <stdexcept>

namespace pswm {

std::string request_key(const planetserve::workload::prompt& p, bool chat) {
  if (!chat || p.messages.empty()) return std::string(chat ? "u" : "c") + p.text;
  std::string k = "m";
  for (const auto& m : p.messages) {
    k += m.role;
    k += '\0';
    k += m.content;
    k += '\0';
  }
  return k;
}

boost::asio::awaitable<boost::system::error_code> async_fetch_server_tokens(
    boost::asio::any_io_executor ex, std::string url, std::string model, std::string api_key, bool chat,
    const std::vector<planetserve::workload::prompt>& prompts, std::ostream& log, server_token_table& out,
    planetserve::diagnostics& diag) {
  namespace http = planetserve::http;
  namespace openai = planetserve::openai;
  auto c = http::client::create(ex, url, http::client_config{}, diag);
  if (!c) co_return c.error();
  if (model.empty()) {
    auto ms = co_await openai::async_list_models(*c, api_key, diag);
    if (!ms) co_return ms.error();
    if (ms->empty()) {
      diag.message = "--tokenizer server: " + url + "/v1/models lists no model";
      co_return planetserve::error::model_not_served;
    }
    model = ms->front();
  }
  std::size_t distinct = 0;
  for (const auto& p : prompts) distinct += out.ids.emplace(request_key(p, chat), std::vector<planetserve::tokenize::token_id>{}).second;
  const bool show = distinct >= 200;
  if (show) log << "pswm: --tokenizer server: tokenizing " << distinct << " distinct prompts on " << url << "\n";
  std::size_t done = 0;
  auto last = std::chrono::steady_clock::now();
  std::unordered_map<std::string, bool> asked;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const auto& p = prompts[i];
    auto key = request_key(p, chat);
    if (!asked.emplace(key, true).second) continue;
    planetserve::result<openai::tokenize_result> r = planetserve::error::empty_input;
    if (chat) {
      std::vector<openai::message_view> msgs;
      if (p.messages.empty()) msgs.push_back({"user", p.text});
      for (const auto& m : p.messages) msgs.push_back({m.role, m.content});
      r = co_await openai::async_tokenize_chat(*c, model, msgs, api_key, diag);
    } else {
      r = co_await openai::async_tokenize(*c, model, p.text, api_key, diag);
    }
    if (!r) {
      diag.message = "--tokenizer server: prompt " + std::to_string(i) + ": " + diag.message;
      co_return r.error();
    }
    out.ids[key] = std::move(r->tokens);
    ++done;
    if (show && std::chrono::steady_clock::now() - last > std::chrono::seconds(2)) {
      last = std::chrono::steady_clock::now();
      log << "pswm: --tokenizer server: " << done << "/" << distinct << " prompts\n" << std::flush;
    }
  }
  if (show) log << "pswm: --tokenizer server: " << done << "/" << distinct << " prompts, done\n";
  planetserve::diagnostics d;
  auto page = co_await c->async_fetch(http::client_request::get("/metrics"), d);
  if (page && page->status == 200)
    if (auto snap = planetserve::prom::parse_vllm_snapshot(page->body); snap && snap->block_size && *snap->block_size > 0)
      out.block_size = static_cast<std::size_t>(*snap->block_size);
  c->shutdown();
  co_return boost::system::error_code{};
}

std::function<void(const planetserve::workload::prompt&, std::vector<planetserve::tokenize::token_id>&)>
lookup_server_tokens(std::shared_ptr<const server_token_table> table, bool chat) {
  return [table, chat](const planetserve::workload::prompt& p, std::vector<planetserve::tokenize::token_id>& out) {
    const auto it = table->ids.find(request_key(p, chat));
    if (it == table->ids.end()) throw std::logic_error("--tokenizer server: a prompt was not tokenized beforehand");
    out.insert(out.end(), it->second.begin(), it->second.end());
  };
}

}  // namespace pswm
