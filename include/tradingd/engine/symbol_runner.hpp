#pragma once
// symbol_runner: one runner_core on its own thread, fed through a bounded SPSC queue.
//
// The feed thread calls push() (it blocks while the queue is full: closed candles are never
// dropped, with one exception below). The runner thread pops events and calls
// runner_core::on_event; it is the only thread that touches the core while running. stop() closes
// the queue, lets the thread drain what was already queued, and joins; after that the core may be
// read from the stopping thread.
//
// Wedge support (see engine/watchdog.hpp): the runner publishes, lock-free, when it started the
// event it is processing (busy_since_ns) and owns the `wedged` flag a watchdog sets. The flag is
// attached to the core, which then suspends the strategy and refuses entries. Once wedged, the
// flag stays set for the life of the runner. While the runner is wedged and its queue is full,
// push() drops the event (counted in dropped()) instead of blocking, so one stuck symbol cannot
// hold up the feed thread, and with it every other symbol. A wedged runner never trades again;
// what it still does (auto-exits on later quotes) does not need the events it missed.
//
// Other work for the runner's thread (a reloaded script to install, retiring the symbol) arrives
// through post(): a small mutex-guarded list the thread checks between events (one atomic load
// per event); posting wakes a runner that is waiting for events.
//
// Status (GET /status, /metrics): the runner's thread publishes a copy of its core's state
// (runner_core::fill_status) after every event that made a decision record, when its queue runs
// empty (at most once a millisecond) and at least every 100 ms while busy;
// status() returns the latest copy from any thread, so a reader never touches the core nor
// waits for the runner (a wedged runner's last copy is returned, flagged wedged).
//
// Thread-safety: push() from one producer thread; start()/stop()/core() from the owning thread;
// symbol(), processed(), busy_since_ns(), wedged(), mark_wedged(), dropped(), post() and
// status() from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <tradingd/core/event_sink.hpp>
#include <tradingd/engine/runner_core.hpp>
#include <tradingd/engine/spsc_queue.hpp>
#include <tradingd/status/daemon_status.hpp>

namespace tradingd::engine {

class symbol_runner final : public event_sink {
public:
    symbol_runner(std::unique_ptr<runner_core> core, std::size_t queue_capacity);
    ~symbol_runner() override;  ///< stops and joins
    symbol_runner(const symbol_runner&) = delete;
    symbol_runner& operator=(const symbol_runner&) = delete;

    /// Work for the runner's thread other than events: installing a reloaded script, retiring.
    using command = std::function<void(runner_core&)>;

    bool push(const market_event& e) override;
    /// Never blocks: `full` while the queue is full (a wedged runner's events are dropped and
    /// counted instead, as in push).
    offer_result offer(const market_event& e) override;
    void start();
    /// Closes the queue, drains it and joins the thread. Idempotent. Blocks for as long as the
    /// runner is stuck in an event (the watchdog's exit deadline bounds that in the daemon).
    void stop();
    /// Queues `c` to run on the runner's thread between two events: as soon as the event being
    /// processed is done, or at once while the runner waits for events (or when it starts).
    /// Commands run in the order posted. Any thread. Returns false once stop() has begun (`c` is
    /// dropped). A command must not throw (it is caught and logged if it does).
    bool post(command c);
    /// The core; only valid to use while the runner is not running (before start / after stop),
    /// except for its members documented as thread-safe (runner_core::prepare).
    runner_core& core() noexcept { return *core_; }
    const std::string& symbol() const noexcept { return symbol_; }
    std::uint64_t processed() const noexcept { return processed_.load(std::memory_order_acquire); }

    /// steady_clock time (ns since its epoch) at which the event being processed started; 0 while
    /// the runner waits for an event.
    std::int64_t busy_since_ns() const noexcept {
        return busy_since_ns_.load(std::memory_order_acquire);
    }
    bool wedged() const noexcept { return wedged_.load(std::memory_order_acquire); }
    /// Sets the wedged flag (the watchdog's call; never cleared) and wakes a feed thread blocked
    /// on this runner's full queue, which then drops events for it instead of waiting.
    void mark_wedged() noexcept;
    /// Events dropped because the runner was wedged with a full queue.
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

    /// The runner's latest published status (see above). Any thread.
    status::runner_status status() const;

    /// While busy, the runner publishes its status at least this often.
    static constexpr std::int64_t publish_interval_ns = 100'000'000;

private:
    void run();
    void run_commands();
    /// Copies the core's state into the published status (runner thread, or before start).
    void publish_status(std::int64_t now_ns);

    std::unique_ptr<runner_core> core_;
    std::string symbol_;
    spsc_queue<market_event> queue_;
    std::atomic<std::uint64_t> processed_{0};
    std::atomic<std::int64_t> busy_since_ns_{0};
    std::atomic<bool> wedged_{false};
    std::atomic<std::uint64_t> dropped_{0};
    std::mutex commands_mutex_;
    std::vector<command> commands_;   // guarded by commands_mutex_
    bool accepting_commands_ = true;  // guarded by commands_mutex_
    std::atomic<bool> commands_pending_{false};
    mutable std::mutex status_mutex_;
    status::runner_status published_;      // guarded by status_mutex_
    status::runner_status scratch_;        // the runner thread's (filled outside the lock)
    std::int64_t last_publish_ns_ = 0;     // runner thread
    std::int64_t last_event_ns_ = 0;       // runner thread: steady time the last event started
    std::uint64_t published_records_ = 0;  // runner thread: core's records_made() at publish
    std::thread thread_;
};

}  // namespace tradingd::engine
