// SPDX-License-Identifier: MIT
// Compiles the vLLM emulator's sans-io core: profiles, KV cache, engine, metrics, text, faults.
#include <planetserve/sim/impl/chat_template.ipp>
#include <planetserve/sim/impl/engine.ipp>
#include <planetserve/sim/impl/engine_stats.ipp>
#include <planetserve/sim/impl/fault_injection.ipp>
#include <planetserve/sim/impl/kv_cache.ipp>
#include <planetserve/sim/impl/metrics_writer.ipp>
#include <planetserve/sim/impl/profile.ipp>
#include <planetserve/sim/impl/python_float.ipp>
#include <planetserve/sim/impl/text_generator.ipp>
#include <planetserve/sim/impl/vllm_version.ipp>
