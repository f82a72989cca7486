// SPDX-License-Identifier: MIT
// <planetserve/tokenize.hpp>: every public header of the tokenize module: the tokenizers (approximate, tokenizer.json byte-level BPE, added tokens).
#pragma once

#include <planetserve/tokenize/added_token_matcher.hpp>
#include <planetserve/tokenize/added_tokens_tokenizer.hpp>
#include <planetserve/tokenize/approx_tokenizer.hpp>
#include <planetserve/tokenize/bpe_tokenizer.hpp>
#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/tokenize/utf8_repair.hpp>
