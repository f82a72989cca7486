// SPDX-License-Identifier: MIT
// experiment::epoch_core: one epoch of one policy as a sans-io state machine (events in, actions out).
#pragma once

#include <planetserve/dispatch/policy.hpp>
#include <planetserve/experiment/progress.hpp>
#include <planetserve/experiment/request_record.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <string>
#include <vector>

namespace planetserve::experiment {

/// Time within an epoch: nanoseconds since its start, on whatever clock the shell runs
/// (the steady clock in real time, the discrete-event clock in virtual time).
using epoch_time = std::chrono::nanoseconds;

/// The run settings the epoch's logic acts on (run_config's, as durations).
struct epoch_settings {
  std::size_t max_concurrency = 0;             ///< requests in flight across the fleet at most (0: no cap)
  std::size_t max_connections_per_node = 1000;  ///< requests at one node at once; more wait in its backlog
  std::size_t max_retries = 2;                 ///< sends again after a connection failure before any response byte
  epoch_time retry_backoff = std::chrono::milliseconds(50);  ///< before the first retry; doubled for each further one
  std::size_t breaker_failures = 3;            ///< consecutive connection failures that take a node out (0: never)
  epoch_time no_node_wait = std::chrono::seconds(30);  ///< a request finding every node out waits this long for one
  epoch_time health_interval = std::chrono::seconds(1);  ///< an out node's /health is checked this often
  epoch_time drain_timeout = std::chrono::seconds(10);   ///< after a stop, in-flight requests get this long
  /// Records keep per-node match depths and load scores only for fleets up to this size
  /// (1,024 nodes would make every record and requests.jsonl line 12 KB longer).
  std::size_t per_node_detail_max = 64;
};

/// The epoch's requests, as the core needs them: when each is due, what the policy sees of
/// it and what its record says before it is sent. Request `i` is the `i`-th to be sent.
class request_source {
 public:
  virtual ~request_source() = default;
  /// Requests in the epoch.
  virtual std::size_t size() const noexcept = 0;
  /// When request `i` is due, since the epoch's start (non-decreasing in `i`).
  virtual epoch_time due(std::size_t i) const = 0;
  /// What the policy sees of request `i`; its tokens stay valid until the next call.
  virtual dispatch::request_view view(std::size_t i) = 0;
  /// Fills what request `i`'s record says about the request itself (query id, dataset
  /// line, max_tokens, trace fields); the core sets epoch, times, node and outcome.
  virtual void describe(std::size_t i, request_record& rec) const = 0;

  // Conversations: a follow-up is not due at due() but its predecessor's end plus think_time().
  /// The request that waits for request `i`'s reply (its conversation's next turn), if any.
  virtual std::optional<std::size_t> follow_up(std::size_t) const { return std::nullopt; }
  /// Whether request `i` waits for another's reply (then due() is not used for it).
  virtual bool is_follow_up(std::size_t) const { return false; }
  /// How long after its predecessor's reply request `i` is sent (the user's think time).
  virtual epoch_time think_time(std::size_t) const { return {}; }
  /// Whether the shell must keep request `i`'s generated text (attempt_result::reply).
  virtual bool keeps_reply(std::size_t) const { return false; }
  /// Request `i` ended (before its follow-up is made): its reply may go into the next prompt.
  virtual void on_reply(std::size_t, const struct attempt_result&) {}
};

/// How one attempt to send a request ended, as the shell measured it. Times are seconds
/// since the epoch's start; NaN when the event never happened.
struct attempt_result {
  double sent_s = missing;          ///< handed to the connection
  double first_token_s = missing;   ///< first content token
  double finished_s = missing;      ///< last byte, or the failure
  double absolute_start = missing;  ///< wall clock at send, Unix seconds
  std::vector<double> chunk_s;      ///< every streamed chunk with content
  int http_status = 0;              ///< 0: no response
  bool usage_reported = false;      ///< the server sent a usage block (the counts below are its)
  std::uint32_t prompt_tokens = 0;      ///< the server's, else the shell's count
  std::uint32_t completion_tokens = 0;  ///< the server's, else content chunks
  std::optional<std::uint32_t> cached_tokens;  ///< prompt_tokens_details.cached_tokens when reported
  std::uint32_t resent = 0;         ///< the connection layer sent it again itself (a stale pooled connection)
  std::string finish_reason;        ///< as the server said
  std::string response_id;          ///< the server's response id
  std::string served_by;            ///< the x-pswm-node header of a response that came through `pswm route`
  bool ok = false;                  ///< the response completed without error
  std::string error;                ///< what went wrong (already free of secrets)
  std::string error_kind;           ///< short failure class ("timeout", "http_500", ...)
  bool node_unreachable = false;    ///< the failure says the node may be down (counts toward its breaker)
  bool retryable = false;           ///< failed before any response byte: safe to send again
  std::string reply;                ///< the generated text, when request_source::keeps_reply() asked for it
};

/// Copies an attempt's measurements into its request's record (what the last attempt saw;
/// retries accumulate).
void record_from(const attempt_result& a, request_record& rec);
/// The same, moving the chunk times out of `a` instead of copying them.
void record_from(attempt_result&& a, request_record& rec);

/// Something the shell must do for the core.
struct epoch_action {
  /// What to do.
  enum class kind : std::uint8_t {
    send,          ///< send `request` to `node` now; report its end with on_attempt_end()
    check_health,  ///< GET `node`'s /health; report with on_health()
    record,        ///< `request`'s record is final: write it out
    message,       ///< say `text` (a complete sentence, no terminal codes)
    abandon,       ///< the drain timed out: cut every request still in flight (they still end, failed)
    over,          ///< nothing is in flight and nothing is due: the epoch is over
  };
  kind what = kind::message;                     ///< the action
  std::size_t request = 0;                       ///< for send and record
  dispatch::node_index node = dispatch::no_node;  ///< for send and check_health
  std::string text;                              ///< for message
};

/// One epoch of one policy: the schedule, per-node admission and backlog, the policy's calls,
/// the breaker and /health checks of failing nodes, retries, the stop and drain, and the
/// records. It does no I/O and reads no clock: the shell feeds it events with the time they
/// happened and carries out the actions it returns, then calls advance() at next_wake().
///
/// The shell's loop: start(); then repeatedly execute every pop_action(), wait until
/// next_wake() or an event, and report it (advance(), on_attempt_end(), on_health(),
/// request_stop()); until an `over` action.
class epoch_core {
 public:
  /// An epoch `epoch` of `policy` sending `source`'s requests to nodes named by `labels`
  /// in messages ("node_0 (http://...)"). `policy` and `source` must outlive the core.
  epoch_core(const epoch_settings& settings, dispatch::policy& policy, request_source& source,
             std::vector<std::string> labels, std::size_t epoch);

  /// Every node becomes available again, and the requests due at `now` go. `unix_origin_s`
  /// is the wall clock (Unix seconds) at time zero: records of requests that were never
  /// sent get their absolute_start from it.
  void start(epoch_time now, double unix_origin_s);
  /// Time has reached `now`: due requests, backoffs, waits for a node, /health re-checks and
  /// the drain deadline act.
  void advance(epoch_time now);
  /// The attempt sent by a `send` action for `request` ended at `now`.
  void on_attempt_end(std::size_t request, attempt_result result, epoch_time now);
  /// A `check_health` of `node` came back: `ok` for HTTP 200, else `why` says what it
  /// answered ("answered HTTP 503", "failed: ...").
  void on_health(dispatch::node_index node, bool ok, const std::string& why, epoch_time now);
  /// Stop sending: queued requests are recorded as not sent, in-flight ones get the drain timeout.
  void request_stop(epoch_time now);

  /// The next thing to do, if any.
  std::optional<epoch_action> pop_action();
  /// When advance() must be called next, if anything waits for a time.
  std::optional<epoch_time> next_wake() const;

  /// Whether the epoch is over (the `over` action was issued).
  bool over() const noexcept { return over_; }
  /// Whether request_stop() was called.
  bool stopping() const noexcept { return stop_; }
  /// Progress counts.
  epoch_progress progress() const noexcept;
  /// TTFTs (seconds) of the requests that ended ok so far, in the order they ended.
  const std::vector<double>& ttfts() const noexcept { return ttfts_; }
  /// Request `i`'s record (final once its `record` action was issued).
  request_record& record(std::size_t i) { return records_.at(i); }
  /// The records of the requests routed, by request index (the rest were never sent: a stop).
  std::vector<request_record> take_records();
  /// Why each out node is out ("" if none), for messages.
  std::string nodes_out_text() const;

 private:
  enum class phase : std::uint8_t { idle, queued, active, held, backoff, waiting, done };
  struct request_state {
    phase at = phase::idle;
    epoch_time wake{};      // backoff end, or the next look for a node
    epoch_time deadline{};  // waiting: give up at
    std::string failure;    // held: the failure that made its node suspect
    bool retryable = false;  // the last attempt failed before any response byte
    bool counted = false;   // routed to a node: counts in in_flight_ until it ends
    std::uint32_t routed_tokens = 0;  // what the policy saw
    std::uint64_t view_id = 0;        // the request_view::id it was routed with
    bool routed = false;              // went through routing (sent, queued or no node): has a record
  };
  struct node_state {
    bool probing = false;        // out: /health is checked every health_interval until 200
    bool suspect = false;        // a connection failed: out while one /health check runs
    bool checking = false;       // a check_health is outstanding
    std::optional<epoch_time> next_check;  // probing: the next check
    std::size_t consecutive_failures = 0;
    std::string out_reason;
    std::size_t active = 0;
    std::deque<std::size_t> backlog;
    std::vector<std::size_t> held;  // failed requests whose fate waits for the suspect check
  };

  void emit(epoch_action::kind k, std::size_t request = 0, dispatch::node_index node = dispatch::no_node,
            std::string text = {});
  void say(std::string text);
  dispatch::decision choose(std::size_t i, epoch_time now);
  void note_decision(std::size_t i, const dispatch::decision& d, std::size_t prompt_tokens);
  void run_schedule(epoch_time now);
  void skip_follow_ups();
  std::optional<std::pair<epoch_time, std::size_t>> next_due() const;
  void route_retry(std::size_t i, epoch_time now);
  void dispatch_or_queue(std::size_t i, dispatch::node_index node, epoch_time now);
  void start_next(dispatch::node_index node, epoch_time now);
  void after_failure(std::size_t i, epoch_time now);
  void not_sent(std::size_t i, epoch_time now, std::string error, std::string kind);
  void finish(std::size_t i, epoch_time now);
  void retry_waiters(epoch_time now);
  void take_out(dispatch::node_index node, const std::string& why, epoch_time now);
  void set_available(dispatch::node_index node, bool available);
  void check_over(epoch_time now);
  static double seconds(epoch_time t) { return std::chrono::duration<double>(t).count(); }

  epoch_settings cfg_;
  std::vector<std::string> labels_;
  dispatch::request_view view_;  // of the last choose()
  double unix_origin_s_ = 0;
  std::size_t probing_ = 0;  // nodes out
  dispatch::policy& policy_;
  request_source& source_;
  std::size_t epoch_;
  std::vector<request_record> records_;
  std::vector<request_state> req_;
  std::vector<node_state> nodes_;
  std::deque<epoch_action> actions_;
  std::vector<double> ttfts_;
  std::vector<std::size_t> waiting_;  // retries waiting for a node
  // Follow-ups released by their predecessor's end: (due, request), earliest first.
  std::priority_queue<std::pair<epoch_time, std::size_t>, std::vector<std::pair<epoch_time, std::size_t>>,
                      std::greater<>>
      released_;
  std::size_t head_ = 0;              // the request the schedule routes next (valid while head_waiting_)
  std::size_t cursor_ = 0;            // next independent request of the schedule
  bool head_waiting_ = false;         // the schedule's next request waits for a node
  epoch_time head_deadline_{};
  epoch_time head_next_look_{};
  std::size_t sent_ = 0, completed_ = 0, failed_ = 0, in_flight_ = 0;
  bool started_ = false, stop_ = false, over_ = false, abandoned_ = false;
  std::optional<epoch_time> drain_deadline_;
};

}  // namespace planetserve::experiment
