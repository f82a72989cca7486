// SPDX-License-Identifier: MIT
// Example: route prompts to 3 nodes with the built-in `lb` policy (PlanetServe's), no servers.
#include <planetserve/dispatch.hpp>
#include <planetserve/tokenize/approx_tokenizer.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

namespace ps = planetserve;

int main() {
  // Two conversations that share long system prompts, interleaved: lb should keep each
  // family on the node that already holds its prefix, while spreading load.
  const std::string tools(600, 't');  // stand-ins for long shared prefixes
  const std::string legal(600, 'l');
  const std::vector<std::string> prompts = {
      "You are a tool agent. " + tools + " Find flights to Oslo.",
      "You are a legal assistant. " + legal + " Summarise clause 4.",
      "You are a tool agent. " + tools + " Book a hotel in Bergen.",
      "You are a legal assistant. " + legal + " Is clause 7 enforceable?",
      "What is the capital of Peru?",
      "You are a tool agent. " + tools + " Cancel my train ticket.",
  };

  // Policies route on token ids; the approximate tokenizer needs no model files.
  ps::tokenize::approx_tokenizer tok;
  ps::dispatch::policy_config config;
  config.nodes = 3;
  auto lb = ps::dispatch::make_policy("lb", config);  // null for an unknown name

  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const std::vector<ps::tokenize::token_id> ids = tok.encode(prompts[i]);
    const ps::dispatch::request_view req{ids, i};
    const ps::dispatch::decision d = lb->choose(req);
    // Tell the policy the request went out: it now believes that node holds the prefix.
    lb->on_dispatched(d.node, req);
    std::cout << "request " << i << " (" << ids.size() << " tokens) -> node " << d.node << " by "
              << ps::dispatch::to_string(d.fired) << ", " << d.chosen_match() << "/" << d.prompt_blocks
              << " blocks already there\n";
    // A real caller reports the end when the server answers; here every request ends at once.
    ps::dispatch::outcome done;
    done.e2e = std::chrono::milliseconds(200);
    done.completion_tokens = 50;
    lb->on_finished(d.node, done);
  }
}
