// SPDX-License-Identifier: MIT
// Compiles the tokenizers.
#include <planetserve/tokenize/impl/approx_tokenizer.ipp>
