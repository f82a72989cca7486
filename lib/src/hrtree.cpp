// SPDX-License-Identifier: MIT
// Compiles the HR-tree prefix index.
#include <planetserve/hrtree/impl/block_hasher.ipp>
#include <planetserve/hrtree/impl/tree.ipp>
