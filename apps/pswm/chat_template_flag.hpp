// SPDX-License-Identifier: MIT
// The --chat-template flag shared by `pswm run` and `pswm route`: the nodes' chat template, so requests are routed on the nodes' own ids.
#pragma once

#include "cli.hpp"

#include <planetserve/sim/chat_template.hpp>

#include <optional>
#include <string>

namespace pswm {

/// What --chat-template accepts, for the flag's help.
inline constexpr const char* chat_template_flag_help =
    "the nodes' chat template, so that requests are routed on the ids the nodes compute (their template's tokens "
    "and BOS included; what precise needs to match their KV events, and what makes predicted cached tokens count "
    "the nodes' blocks): the served model's tokenizer_config.json (Llama 3 and ChatML shapes are recognised) (the one beside its tokenizer.json, as vLLM and "
    "pswm sim --tokenizer read it), 'llama3.1' (what pswm sim renders without --tokenizer), or 'none' (the seed's "
    "way: route on the messages' text)";

/// The template a --chat-template value names: none for "none", Llama 3.1's for "llama3.1",
/// else the chat_template of that tokenizer_config.json. Throws cli::usage_error naming the
/// flag, the file and the field.
std::optional<planetserve::sim::chat_template> chat_template_flag(const std::string& value);

}  // namespace pswm
