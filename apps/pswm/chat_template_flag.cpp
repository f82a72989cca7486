// SPDX-License-Identifier: MIT
// The --chat-template flag shared by `pswm run` and `pswm route`.
#include "chat_template_flag.hpp"

namespace pswm {

std::optional<planetserve::sim::chat_template> chat_template_flag(const std::string& value) {
  if (value == "none") return std::nullopt;
  if (value == "llama3.1") return planetserve::sim::chat_template::llama3_1();
  planetserve::diagnostics diag;
  auto tpl = planetserve::sim::load_chat_template(value, diag);
  if (!tpl) throw cli::usage_error("--chat-template: " + diag.message + " (or give 'llama3.1' or 'none')");
  return *tpl;
}

}  // namespace pswm
