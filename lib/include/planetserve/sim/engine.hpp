// SPDX-License-Identifier: MIT
// sim::engine: vLLM V1's scheduler and KV cache, emulated step by step (sans-io, driven by time).
#pragma once

#include <planetserve/error.hpp>
#include <planetserve/sim/engine_stats.hpp>
#include <planetserve/sim/kv_cache.hpp>
#include <planetserve/sim/profile.hpp>
#include <planetserve/sim/text_generator.hpp>
#include <planetserve/sim/vllm_version.hpp>
#include <planetserve/tokenize/tokenizer.hpp>

#include <boost/container/small_vector.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace planetserve::sim {

/// Engine time: nanoseconds since an epoch the caller chooses (e.g. when the node started).
using time_point = std::chrono::nanoseconds;

/// How many tokens a request generates when neither max_tokens nor ignore_eos decides it
/// (the point where the emulated model "emits EOS").
struct output_length_config {
  /// A length distribution.
  enum class shape : std::uint8_t {
    fixed,        ///< always `mean`
    uniform,      ///< uniform integer in [min, max]
    exponential,  ///< exponential with mean `mean`
    lognormal,    ///< lognormal with mean `mean` and log-space standard deviation `sigma`
  };
  shape distribution = shape::lognormal;  ///< the distribution's shape
  double mean = 256;                      ///< mean length in tokens (fixed: the length)
  double sigma = 0.8;                     ///< lognormal shape parameter
  std::size_t min = 1;                    ///< lengths are clamped to at least this
  std::size_t max = 4096;                 ///< and at most this
};

/// Engine limits and model speed. from_profile() gives what vLLM would use by default.
struct engine_config {
  std::size_t block_size = 16;               ///< tokens per KV block (--block-size)
  std::size_t num_gpu_blocks = 28029;        ///< KV blocks, null block included (vLLM's num_gpu_blocks)
  bool num_gpu_blocks_overridden = false;    ///< set by --num-gpu-blocks-override: skip vLLM's startup check
  std::size_t max_num_seqs = 256;            ///< running sequences per step (--max-num-seqs)
  std::size_t max_num_batched_tokens = 2048;  ///< tokens per step, prefill chunks + decodes (--max-num-batched-tokens)
  std::size_t max_model_len = 131072;        ///< prompt + output limit (--max-model-len)
  bool enable_prefix_caching = true;         ///< vLLM V1's default
  step_cost cost;                            ///< step-time model
  double step_jitter = 0;                    ///< --step-jitter: log-space spread of a seeded multiplicative noise on step times (0: none)
  output_length_config output_length;        ///< natural output lengths
  std::uint64_t seed = 0;                    ///< seeds output lengths, text and step jitter (--seed)
  prefix_cache_counting counting = prefix_cache_counting::at_admission;  ///< prefix-cache counter semantics (--vllm-version)
  bool enable_kv_cache_events = false;       ///< keep KV-cache events for take_kv_events() (vLLM's --kv-events-config enable_kv_cache_events)

  /// vLLM's defaults for `p`.
  static engine_config from_profile(const profile& p);
};

/// The per-request sampling parameters the engine acts on.
struct sampling_params {
  std::optional<std::size_t> max_tokens;  ///< absent: up to max_model_len - prompt tokens
  std::size_t min_tokens = 0;             ///< EOS is not emitted before this many tokens
  bool ignore_eos = false;                ///< generate exactly max_tokens
  std::size_t n = 1;                      ///< recorded in vllm:request_params_n only
  std::optional<std::uint64_t> seed;      ///< output seed; absent: engine seed mixed with the id
};

/// Token counts as the OpenAI usage object reports them.
struct request_usage {
  std::size_t prompt_tokens = 0;      ///< prompt length
  std::size_t completion_tokens = 0;  ///< tokens generated so far
  std::size_t cached_tokens = 0;      ///< prompt tokens found in the prefix cache when first scheduled
};

/// What one step did for one request.
struct request_output {
  std::string id;                             ///< the request id given to add_request
  /// Tokens emitted this step (their time is step end): one per step while decoding, so kept
  /// inline (no allocation per request per step).
  boost::container::small_vector<tokenize::token_id, 4> tokens;
  bool first_token = false;                   ///< `tokens` starts with the request's first token
  std::optional<finish_reason> finished;      ///< set when the request ended this step
  request_usage usage;                        ///< counts after this step
};

/// One engine step.
struct step_result {
  time_point start{};                   ///< when the step began
  time_point end{};                     ///< when its outputs are ready
  std::size_t scheduled_tokens = 0;     ///< tokens computed: prefill chunks + decodes
  std::size_t prefill_tokens = 0;       ///< of which prompt/recompute tokens
  std::size_t decode_seqs = 0;          ///< sequences that decoded one token
  std::size_t padded_decode_seqs = 0;   ///< the decode batch as its CUDA graph runs it (decode-only steps are padded)
  std::size_t scheduled_seqs = 0;       ///< sequences in the batch
  std::size_t preempted = 0;            ///< requests preempted (recompute) this step
  std::vector<request_output> outputs;  ///< requests that got tokens or finished
};

/// The batch a decode-only step of `decode_seqs` sequences runs as: vLLM captures CUDA
/// graphs for 1, 2, 4, then every multiple of 8 below 256, then every multiple of 16 up to
/// min(2 x max_num_seqs, 512), and pads a decode batch up to the next captured size;
/// larger batches run eagerly, unpadded.
std::size_t cuda_graph_batch_size(std::size_t decode_seqs, std::size_t max_num_seqs) noexcept;

/// vLLM V1's engine core, emulated. Requests wait in FCFS order; each step schedules the
/// running requests first (a decode token each, or the next prefill chunk), then waiting
/// ones while the token budget, max_num_seqs and KV blocks allow; a running request that
/// cannot get a block preempts the most recently scheduled one (recompute). Full blocks
/// are cached by chained hash when allocated, so a request scheduled later in the same
/// step already hits them, as in vLLM.
///
/// Driving it: add_request() when a request arrives; while next_step_time() has a value,
/// wait until then and call step(that time); deliver the outputs at step_result::end. A
/// step's effects are applied when step() returns (counters move at the step's start).
class engine {
 public:
  /// Throws std::invalid_argument if validate() fails.
  explicit engine(engine_config config);
  ~engine();
  /// Moves the engine.
  engine(engine&&) noexcept;
  /// Moves the engine.
  engine& operator=(engine&&) noexcept;

  /// vLLM's startup checks: positive limits, and (unless the block count was overridden)
  /// a KV cache that can hold one max_model_len request.
  static boost::system::error_code validate(const engine_config& config, diagnostics& diag);

  /// Queues a request arriving at `now`. Fails with error::bad_request and a vLLM-style
  /// message when the prompt is empty, prompt + max_tokens exceeds max_model_len, the
  /// parameters are inconsistent, or the request could never fit in the KV cache; with
  /// error::invalid_argument for a duplicate id.
  boost::system::error_code add_request(std::string id, std::vector<tokenize::token_id> prompt,
                                        const sampling_params& params, time_point now, diagnostics& diag);

  /// Drops a request wherever it is and frees its blocks. False if unknown.
  bool abort(std::string_view id);

  /// When the next step should start, or nothing when there is no work.
  std::optional<time_point> next_step_time() const noexcept;

  /// Runs one step starting at max(now, end of the previous step).
  step_result step(time_point now);

  /// vLLM's POST /reset_prefix_cache: drops every cached block hash. False (nothing
  /// dropped) while requests hold blocks, as vLLM refuses then.
  bool reset_prefix_cache();

  /// The KV-cache events since the last call (BlockStored when full blocks enter the prefix
  /// cache, BlockRemoved when evicted, AllBlocksCleared on reset), oldest first; empty unless
  /// config().enable_kv_cache_events. vLLM publishes them after each step.
  std::vector<kvevents::event> take_kv_events() { return cache_.take_events(); }

  /// vllm:num_requests_running: requests in the running batch.
  std::size_t num_running() const noexcept { return running_.size(); }
  /// vllm:num_requests_waiting: requests queued.
  std::size_t num_waiting() const noexcept { return waiting_.size(); }
  /// vllm:kv_cache_usage_perc: fraction of blocks in use (0..1).
  double kv_cache_usage() const noexcept { return cache_.usage(); }
  /// The counters and histograms /metrics shows.
  const engine_stats& stats() const noexcept { return stats_; }
  /// The settings the engine was made with.
  const engine_config& config() const noexcept { return config_; }
  /// The KV cache (block pool).
  const kv_cache& cache() const noexcept { return cache_; }
  /// The output text generator.
  const text_generator& generator() const noexcept { return generator_; }

 private:
  struct request;
  bool allocate_slots(request& r, std::size_t num_new);
  void cache_full_blocks(request& r, std::size_t num_tokens);
  void preempt(request& r);
  void release(request& r);
  std::size_t sample_output_length(std::uint64_t seed);

  engine_config config_;
  kv_cache cache_;
  text_generator generator_;
  engine_stats stats_;
  std::unordered_map<std::string, std::unique_ptr<request>> requests_;
  std::deque<request*> waiting_;
  std::vector<request*> running_;
  struct scheduled_entry;
  std::vector<scheduled_entry> scheduled_;  // step()'s scratch, kept so that a step allocates less
  std::vector<request*> finished_;          // likewise
  time_point busy_until_{0};
  bool stalled_ = false;
};

}  // namespace planetserve::sim
