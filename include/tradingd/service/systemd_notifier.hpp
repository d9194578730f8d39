#pragma once
// systemd_notifier: the daemon's side of the service manager protocol (Type=notify), through
// libsystemd's sd_notify.
//
//   ready()      READY=1 plus a STATUS= line, once start-up is complete (config read, journal
//                restored, feed connected);
//   status(s)    STATUS=<one line> (shown by `systemctl status`);
//   reloading()  RELOADING=1 (SIGHUP handling begins); ready() again when it is done;
//   stopping()   STOPPING=1.
//
// Watchdog: when the unit sets WatchdogSec (sd_watchdog_enabled, read at construction),
// start_watchdog(check) starts a thread that every half watchdog interval calls `check` and
// sends WATCHDOG=1 only when it returns an empty string. A non-empty result (the reason: "BTCUSDT
// stuck in one event for 20 s") is logged once per episode and the ping is withheld, so systemd
// kills and restarts a daemon that is alive but not making progress. Without NOTIFY_SOCKET
// (not started by systemd) every call is a cheap no-op and no thread starts.
//
// Thread-safety: every member may be called from any thread. Lifetime: the watchdog thread is
// joined by stop_watchdog() or the destructor.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace spdlog {
class logger;
}

namespace tradingd::service {

class systemd_notifier {
public:
    /// Returns "" when the daemon is making progress, else the reason it is not.
    using progress_check = std::function<std::string()>;

    explicit systemd_notifier(std::shared_ptr<spdlog::logger> logger = nullptr);
    ~systemd_notifier();
    systemd_notifier(const systemd_notifier&) = delete;
    systemd_notifier& operator=(const systemd_notifier&) = delete;

    /// Whether NOTIFY_SOCKET is set (started by systemd with Type=notify).
    bool enabled() const noexcept { return enabled_; }
    /// The unit's watchdog interval (WatchdogSec); zero when none.
    std::chrono::microseconds watchdog_interval() const noexcept { return watchdog_; }

    void ready(const std::string& status_line);
    void status(const std::string& status_line);
    void reloading();
    void stopping();

    /// No-op without a watchdog interval. Calling it twice replaces nothing (the first wins);
    /// stopping is final (a start after stop_watchdog() starts nothing). Throws
    /// std::invalid_argument for an empty check.
    void start_watchdog(progress_check check);
    void stop_watchdog();

    /// WATCHDOG=1 pings sent so far (for tests and /status).
    std::uint64_t watchdog_pings() const noexcept;

private:
    void notify(const std::string& state);
    void watchdog_loop();

    std::shared_ptr<spdlog::logger> log_;
    bool enabled_ = false;
    std::chrono::microseconds watchdog_{0};
    progress_check check_;
    mutable std::mutex mutex_;  // mutable: watchdog_pings() is const
    std::condition_variable wake_;
    bool stop_ = false;
    std::uint64_t pings_ = 0;  // guarded by mutex_
    std::thread thread_;
    std::atomic<bool> notify_failed_{false};  // the sd_notify failure warning is logged once
};

}  // namespace tradingd::service
