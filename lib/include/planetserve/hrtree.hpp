// SPDX-License-Identifier: MIT
// <planetserve/hrtree.hpp>: every public header of the hrtree module: the HR-tree prefix index and the block hasher it keys on.
#pragma once

#include <planetserve/hrtree/block_hasher.hpp>
#include <planetserve/hrtree/tree.hpp>
