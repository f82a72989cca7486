// SPDX-License-Identifier: MIT
// experiment::virtual_fleet: emulated vLLM engines under one discrete-event clock (no sockets, no sleeping).
#pragma once

#include <planetserve/dispatch/decision.hpp>
#include <planetserve/error.hpp>
#include <planetserve/experiment/epoch_core.hpp>
#include <planetserve/kvevents/event.hpp>
#include <planetserve/openai/request_builder.hpp>
#include <planetserve/prom/vllm_snapshot.hpp>
#include <planetserve/sim/engine.hpp>
#include <planetserve/sim/fleet.hpp>
#include <planetserve/tokenize/tokenizer.hpp>
#include <planetserve/workload/dataset.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace planetserve::experiment {

/// The nodes of a virtual-time run: one sim::engine per node, each configured as `pswm sim`
/// would run it, stepped by a discrete-event clock. A request goes in as the body a node's
/// HTTP front would receive (parsed and tokenized the same way); it comes out as the
/// attempt_result a streaming client would have measured, its chunk times being the ends
/// of the steps that produced its tokens. Everything is sans-io; the caller owns the clock.
class virtual_fleet {
 public:
  /// One engine step's KV-cache events, as a node publishes them when the step ends.
  struct kv_batch {
    std::size_t node = 0;         ///< the publishing node
    kvevents::event_batch batch;  ///< its events (ts: the step's end, seconds since the epoch's origin)
  };

  /// `config.num_nodes` engines, node i configured by config.node_at(i). Fails with
  /// error::invalid_argument when an engine's settings do not validate (`diag` says which).
  static result<std::unique_ptr<virtual_fleet>> create(const sim::fleet_config& config, diagnostics& diag);

  /// Number of nodes.
  std::size_t size() const noexcept { return nodes_.size(); }
  /// The model every node serves.
  const std::string& model() const noexcept { return model_; }
  /// Node `k`'s engine.
  const sim::engine& engine(std::size_t k) const { return nodes_.at(k).eng; }

  /// Request `request` arrives at node `node` at `now` with `body` (chat or completions);
  /// with `keep_text` its generated text is kept in attempt_result::reply.
  /// Nothing when it was admitted; the failed attempt when the node refused it (the status
  /// and message the node's HTTP front would answer: 400, 404 for another model...).
  std::optional<attempt_result> send(std::size_t request, dispatch::node_index node, std::string_view body, bool chat,
                                     epoch_time now, bool keep_text = false);
  /// send() for a request already tokenized as the node tokenizes it (node_tokens()), with
  /// the sampling options its body would carry: the engine gets what parsing that body would
  /// have given it, without the body being written, parsed and tokenized again (a test holds
  /// the two paths equal). What a million-request run sends.
  std::optional<attempt_result> send_tokens(std::size_t request, dispatch::node_index node,
                                            std::vector<tokenize::token_id> prompt,
                                            const openai::request_options& options, epoch_time now,
                                            bool keep_text = false);
  /// When the next engine event (a step starts, or a step's outputs are due) happens.
  std::optional<epoch_time> next_event() const;
  /// Runs every engine event at or before `now`; requests that ended are appended to
  /// `ended` with their result, in the order they ended.
  void advance(epoch_time now, std::vector<std::pair<std::size_t, attempt_result>>& ended);
  /// Aborts every request in the engines (a drain that timed out); they end as failed.
  void abandon(epoch_time now, std::vector<std::pair<std::size_t, attempt_result>>& ended);

  /// The KV-cache event batches of the steps that ended since the last call (engines made
  /// with enable_kv_cache_events only), in the order the steps ended.
  std::vector<kv_batch> take_kv_batches() { return std::exchange(kv_out_, {}); }

  /// Tokens as a node configured by `node` computes them for a prompt sent to the chat
  /// (`chat`) or completions API: its chat template and BOS included, so a router's blocks
  /// are the server's (what `pswm run --sim` routes on).
  static std::function<void(const workload::prompt&, std::vector<tokenize::token_id>&)> node_tokens(
      const sim::node_config& node, bool chat);

  /// Node `k`'s /metrics page as its HTTP front would write it now.
  void metrics_page(std::size_t k, std::string& out) const;
  /// What parsing node `k`'s page now gives (prom::parse_vllm_snapshot of metrics_page()),
  /// without writing or parsing it: what a scrape costs at a thousand nodes. The page's
  /// shape (names, labels, cache_config_info) comes from one page rendered and parsed when
  /// the fleet was made; the values from the engine, as the page prints them.
  prom::vllm_snapshot snapshot(std::size_t k) const;
  /// vLLM's POST /reset_prefix_cache on every node; false if some node refused.
  bool reset_prefix_caches();

  /// Epoch time zero on the fleet's clock: engines keep one clock across epochs.
  void set_origin(epoch_time origin) noexcept { origin_ = origin; }

 private:
  struct live_request {
    std::size_t request = 0;
    attempt_result result;
    bool wrote_content = false;
    bool keep_text = false;
  };
  struct engine_node {
    engine_node(sim::node_config c, sim::engine e, std::shared_ptr<const tokenize::tokenizer> t)
        : cfg(std::move(c)), eng(std::move(e)), tokenizer(std::move(t)) {}
    sim::node_config cfg;
    sim::engine eng;
    std::shared_ptr<const tokenize::tokenizer> tokenizer;
    prom::vllm_snapshot page_shape;             // the parsed page of the node when made
    std::optional<sim::step_result> in_flight;  // computed, outputs due at its end
    std::vector<kvevents::event> step_events;   // the in-flight step's KV events, published at its end
    sim::time_point last_arrival{0};
    std::unordered_map<std::string, live_request> live;
    std::uint64_t next_id = 0;
    std::uint64_t version = 0;  // bumped whenever the node's next event may have moved
  };
  struct event {
    sim::time_point at;
    std::size_t node;
    std::uint64_t version;
    bool operator>(const event& o) const noexcept { return at != o.at ? at > o.at : node > o.node; }
  };

  virtual_fleet() = default;
  std::optional<sim::time_point> node_event(const engine_node& nd) const;
  void reschedule(std::size_t k);
  void run_node(std::size_t k, sim::time_point now, std::vector<std::pair<std::size_t, attempt_result>>& ended);
  std::optional<attempt_result> admit(std::size_t request, dispatch::node_index node, std::vector<tokenize::token_id> prompt,
                                      const sim::sampling_params& params, epoch_time now, bool keep_text);
  void deliver(engine_node& nd, const sim::step_result& r, std::vector<std::pair<std::size_t, attempt_result>>& ended);
  double seconds(sim::time_point t) const { return std::chrono::duration<double>(t - origin_).count(); }

  std::vector<engine_node> nodes_;
  std::string model_;
  epoch_time origin_{0};
  std::priority_queue<event, std::vector<event>, std::greater<>> events_;
  std::vector<kv_batch> kv_out_;
};

}  // namespace planetserve::experiment
