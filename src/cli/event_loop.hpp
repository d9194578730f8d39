#pragma once
// event_loop: the daemon's main thread. Waits, without polling, for signals (signalfd), the
// script watcher's inotify descriptor, its debounce deadlines and the run's end, and dispatches:
//   SIGINT / SIGTERM       -> returns the signal (the daemon stops)
//   SIGHUP                 -> on_reload_config()
//   SIGUSR1                -> on_halt_signal()   (the kill switch)
//   finished script writes -> on_script_changes()
//   every tick_interval    -> on_tick()          (kill-switch file, systemd STATUS line)
//
// The signals must be blocked in every thread before any thread starts (the constructor does
// not do it; run_daemon does), so they are only ever received here.
//
// Thread-safety: one thread. Lifetime: owns the signalfd.

#include <signal.h>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include <tradingd/reload/script_watcher.hpp>

namespace tradingd::cli {

class event_loop {
public:
    using clock = std::chrono::steady_clock;

    /// Throws std::runtime_error if the signalfd cannot be created.
    explicit event_loop(const sigset_t& signals);
    ~event_loop();
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    static constexpr std::chrono::seconds tick_interval{1};

    std::function<void()> on_reload_config;
    std::function<void()> on_halt_signal;
    std::function<void()> on_tick;
    std::function<void(const std::vector<reload::script_change>&)> on_script_changes;

    /// Runs until SIGINT/SIGTERM (returns it) or `end` (returns 0). `watcher` may be null.
    int run(std::optional<clock::time_point> end, reload::script_watcher* watcher);

private:
    /// Reads pending signals; returns a stop signal, or 0.
    int read_signals();
    int fd_ = -1;
    clock::time_point next_tick_{};
};

}  // namespace tradingd::cli
