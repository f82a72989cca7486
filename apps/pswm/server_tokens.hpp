// SPDX-License-Identifier: MIT
// `pswm run --tokenizer server`: the servers' own token ids for every distinct prompt, and their KV block size.
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/dataset.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

namespace pswm {

/// What node 0 said: ids per distinct request, and its block size if /metrics shows it.
struct server_token_table {
  std::unordered_map<std::string, std::vector<planetserve::tokenize::token_id>> ids;  ///< by request_key()
  std::optional<std::size_t> block_size;  ///< vllm:cache_config_info's block_size
};

/// The key of what the server tokenizes for `p`: its messages (chat) or its text.
std::string request_key(const planetserve::workload::prompt& p, bool chat);

/// POSTs /tokenize to `url` once per distinct request among `prompts` (chat: the messages,
/// or the text as one user turn, with the generation prompt; completions: the text), with
/// a progress line on `log` for large sets, and reads the block size from its /metrics.
/// `model` empty: the server's first /v1/models entry. Errors name the URL and prompt.
boost::asio::awaitable<boost::system::error_code> async_fetch_server_tokens(
    boost::asio::any_io_executor ex, std::string url, std::string model, std::string api_key, bool chat,
    const std::vector<planetserve::workload::prompt>& prompts, std::ostream& log, server_token_table& out,
    planetserve::diagnostics& diag);

/// A run_config::server_tokens that looks ids up in `table` (every prompt must be in it).
std::function<void(const planetserve::workload::prompt&, std::vector<planetserve::tokenize::token_id>&)>
lookup_server_tokens(std::shared_ptr<const server_token_table> table, bool chat);

}  // namespace pswm
