// SPDX-License-Identifier: MIT
// Compiles the tokenizers.
#include <planetserve/tokenize/impl/added_token_matcher.ipp>
#include <planetserve/tokenize/impl/added_tokens_tokenizer.ipp>
#include <planetserve/tokenize/impl/approx_tokenizer.ipp>
#include <planetserve/tokenize/impl/bpe_tokenizer.ipp>
#include <planetserve/tokenize/impl/split_regex.ipp>
#include <planetserve/tokenize/impl/utf8_repair.ipp>
