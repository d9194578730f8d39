#pragma once
// watchdog: the last resort against a runner stuck inside one event.
//
// A Lua strategy call is stopped by its count hook (time limit, instruction budget), but a C
// function (a pathological string pattern, say) cannot be interrupted and a thread cannot be
// killed safely. The watchdog's own thread samples, every check_interval(), what each watched
// symbol_runner publishes lock-free (busy_since_ns, processed) and:
//
//   - when a runner has been busy in ONE event for `wedge_after`, marks it wedged
//     (symbol_runner::mark_wedged; its runner_core then refuses entries and suspends the
//     strategy) and logs it at critical level;
//   - if that same event is still running after `exit_after` (counted from the event's start),
//     logs at critical level and calls `on_fatal` once for that event. The daemon's handler
//     flushes the logs and exits non-zero so systemd restarts the process;
//   - if the event finishes before `exit_after`, logs a warning. The wedged flag stays set: the
//     strategy stays suspended until the daemon restarts.
//
// An idle runner (waiting on an empty queue) is never flagged, however long it waits. Flagging
// happens between wedge_after and wedge_after + check_interval() after the event started.
//
// The watchdog never touches a runner_core: it reads only the runners' atomics and sets their
// wedged flag, so it cannot be blocked by the runner it watches.
//
// Thread-safety: watch() may be called from any thread, before or while the watchdog runs.
// on_fatal and the logger are called from the watchdog's thread (on_fatal without any lock held).
// Lifetime: the thread starts in the constructor; stop() (or the destructor) wakes and joins it
// promptly. Watched runners must outlive the watchdog or its stop().

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <tradingd/engine/symbol_runner.hpp>

namespace spdlog {
class logger;
}

namespace tradingd::engine {

struct watchdog_limits {
    std::chrono::milliseconds wedge_after{2'000};  ///< one event this long: the runner is wedged
    std::chrono::milliseconds exit_after{
        15'000};  ///< one event this long: on_fatal (> wedge_after)
};

class watchdog {
public:
    /// Called with a reason naming the symbol, e.g. "BTCUSDT: runner still stuck in one event
    /// after 15000 ms (exit limit 15000 ms)". The daemon's handler does not return.
    using fatal_handler = std::function<void(const std::string& reason)>;

    /// Starts the watchdog thread. Throws std::invalid_argument unless
    /// 0 < wedge_after < exit_after and on_fatal is set. `logger` defaults to spdlog's default.
    watchdog(watchdog_limits limits, fatal_handler on_fatal,
             std::shared_ptr<spdlog::logger> logger = nullptr);
    ~watchdog();  ///< stop()
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

    /// Starts monitoring `runner` from the next check on.
    void watch(symbol_runner& runner);
    /// Wakes and joins the thread; no check runs after it returns. Idempotent.
    void stop();

    /// How often the runners are sampled: a quarter of wedge_after, within 5..100 ms.
    std::chrono::milliseconds check_interval() const noexcept { return interval_; }
    const watchdog_limits& limits() const noexcept { return limits_; }

private:
    /// What the watchdog remembers about one runner between checks.
    struct watched {
        symbol_runner* runner = nullptr;
        bool stuck = false;             ///< flagged in the event `stuck_event`
        std::uint64_t stuck_event = 0;  ///< index (processed() value) of the stuck event
        std::int64_t stuck_since_ns = 0;
        bool fatal_reported = false;
        bool drops_reported = false;
    };

    void run();
    /// One pass over the runners; returns the reasons for on_fatal (called by run() unlocked).
    std::vector<std::string> check(std::int64_t now_ns);
    void check_one(watched& w, std::int64_t now_ns, std::vector<std::string>& fatal);

    watchdog_limits limits_;
    std::chrono::milliseconds interval_;
    fatal_handler on_fatal_;
    std::shared_ptr<spdlog::logger> log_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;             // guarded by mutex_
    std::vector<watched> runners_;  // guarded by mutex_
    std::thread thread_;
};

/// The limits a config's [sandbox] section describes.
watchdog_limits to_watchdog_limits(const config::sandbox_config& s);

}  // namespace tradingd::engine
