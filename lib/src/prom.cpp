// SPDX-License-Identifier: MIT
// Compiles the Prometheus text parser, the page model and the vLLM metric model.
#include <planetserve/prom/impl/parser.ipp>
#include <planetserve/prom/impl/page.ipp>
#include <planetserve/prom/impl/vllm_snapshot.ipp>
