// SPDX-License-Identifier: MIT
// dispatch::make_policy: builds a built-in policy by name; lists the names and what each does.
#pragma once

#include <planetserve/dispatch/policy.hpp>

#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace planetserve::dispatch {

/// A built-in policy's name and a one-line description for --help.
struct policy_info {
  std::string_view name;         ///< registry name, as make_policy() takes it
  std::string_view description;  ///< one line, for --help
};

/// The built-in policies, in the order --help should list them.
std::span<const policy_info> known_policies() noexcept;

/// The names of known_policies() joined by ", " (for "unknown policy; known: ...").
std::string known_policy_names();

/// A new policy `name` for `config`; null if the name is unknown. Throws
/// std::invalid_argument (naming the field) if check(config, diag) finds a problem; call check()
/// first to get it as an error_code and diagnostics instead.
std::unique_ptr<policy> make_policy(std::string_view name, const policy_config& config);

}  // namespace planetserve::dispatch
