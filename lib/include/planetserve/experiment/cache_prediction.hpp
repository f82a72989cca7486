// SPDX-License-Identifier: MIT
// cache_prediction: how well a policy's prefix model predicted the servers' cached tokens.
#pragma once

#include <planetserve/experiment/request_record.hpp>

#include <cstddef>
#include <span>

namespace planetserve::experiment {

/// Predicted against realised cached prompt tokens over a run's completed requests. A
/// "hit" is more than 0 tokens. The error figures cover `compared` requests only.
struct cache_prediction {
  std::size_t predicted = 0;  ///< completed requests the policy made a prediction for
  std::size_t reported = 0;   ///< completed requests whose cached tokens the server reported
  std::size_t compared = 0;   ///< completed requests with both
  double mae_tokens = missing;   ///< mean |predicted - realised|, tokens (NaN: nothing compared)
  double bias_tokens = missing;  ///< mean (predicted - realised), tokens: > 0 means over-optimistic
  std::size_t hit_hit = 0;    ///< predicted a hit, the server had one
  std::size_t hit_miss = 0;   ///< predicted a hit, the server had none
  std::size_t miss_hit = 0;   ///< predicted none, the server had a hit
  std::size_t miss_miss = 0;  ///< predicted none, the server had none
};

/// vLLM leaves prompt_tokens_details out when nothing was cached, even with
/// --enable-prompt-tokens-details: a request that got a usage block without it, from a node
/// that reported cached tokens for some other request of `records`, had 0 cached tokens and
/// gets that. Nodes that never reported any stay unreported (their server may have the
/// details off).
void fill_unreported_misses(std::span<request_record> records);

/// The accuracy over `records`' completed requests.
cache_prediction measure_cache_prediction(std::span<const request_record> records);

}  // namespace planetserve::experiment
