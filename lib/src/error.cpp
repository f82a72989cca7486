// SPDX-License-Identifier: MIT
// Compiles the error category.
#include <planetserve/impl/error.ipp>
