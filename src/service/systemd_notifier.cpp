#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <tradingd/service/systemd_notifier.hpp>

namespace tradingd::service {

namespace {

// sd_notify's state is a newline-separated list of assignments: a newline inside a STATUS= value
// would end it early and could inject another assignment (e.g. "READY=1"). Flatten it.
std::string one_line(std::string s) {
    std::replace_if(
        s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return s;
}

bool notify_socket_set() noexcept {
    // Read once, at construction on the main thread, before the watchdog thread exists.
    const char* socket = std::getenv("NOTIFY_SOCKET");  // NOLINT(concurrency-mt-unsafe)
    return socket != nullptr && socket[0] != '\0';
}

// Zero when the unit has no WatchdogSec (or the watchdog is meant for another process:
// sd_watchdog_enabled checks WATCHDOG_PID against our pid).
std::chrono::microseconds watchdog_from_environment() noexcept {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0) return std::chrono::microseconds(usec);
    return std::chrono::microseconds::zero();
}

// The watchdog must not die with an exception from the progress check (that would terminate the
// daemon with no explanation); a throwing check counts as "no progress" and says why.
std::string run_check(const systemd_notifier::progress_check& check) {
    try {
        return check();
    } catch (const std::exception& e) {
        return std::string("progress check failed: ") + e.what();
    } catch (...) {
        return "progress check failed with an unknown exception";
    }
}

}  // namespace

systemd_notifier::systemd_notifier(std::shared_ptr<spdlog::logger> logger)
    : log_(logger ? std::move(logger) : spdlog::default_logger()), enabled_(notify_socket_set()) {
    if (enabled_) watchdog_ = watchdog_from_environment();
}

systemd_notifier::~systemd_notifier() {
    stop_watchdog();
}

void systemd_notifier::ready(const std::string& status_line) {
    notify("READY=1\nSTATUS=" + one_line(status_line));
}

void systemd_notifier::status(const std::string& status_line) {
    notify("STATUS=" + one_line(status_line));
}

void systemd_notifier::reloading() {
    notify("RELOADING=1");
}

void systemd_notifier::stopping() {
    notify("STOPPING=1");
}

void systemd_notifier::start_watchdog(progress_check check) {
    if (!enabled_ || watchdog_ <= std::chrono::microseconds::zero()) return;
    if (!check) throw std::invalid_argument("systemd_notifier: the progress check is required");
    std::lock_guard lock(mutex_);
    // Stopping is final: check_ is read by the thread without the mutex, so it is written exactly
    // once, before the only thread that will ever read it starts.
    if (thread_.joinable() || stop_) return;
    check_ = std::move(check);
    thread_ = std::thread([this] { watchdog_loop(); });
    log_->info("systemd watchdog: pinging every {} ms while the runners make progress",
               std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_ / 2).count());
}

void systemd_notifier::stop_watchdog() {
    std::thread thread;
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
        thread = std::move(thread_);
    }
    wake_.notify_all();
    if (thread.joinable()) thread.join();
}

std::uint64_t systemd_notifier::watchdog_pings() const noexcept {
    std::lock_guard lock(mutex_);
    return pings_;
}

void systemd_notifier::notify(const std::string& state) {
    if (!enabled_) return;
    const int r = sd_notify(0, state.c_str());
    if (r >= 0) return;
    // Warn once: a broken notification socket would otherwise flood the log at the watchdog rate.
    if (!notify_failed_.exchange(true)) {
        log_->warn(
            "sd_notify failed ({}); systemd will not see status or watchdog pings "
            "(further failures are not logged)",
            std::system_category().message(-r));
    }
}

void systemd_notifier::watchdog_loop() {
    const auto interval = watchdog_ / 2;
    bool withholding = false;
    std::unique_lock lock(mutex_);
    while (!stop_) {
        lock.unlock();
        // Outside the mutex: the check may take a while (it asks every runner), and stop_watchdog
        // or watchdog_pings must not wait for it.
        const std::string reason = run_check(check_);
        if (reason.empty()) {
            if (withholding) log_->info("systemd watchdog: progress resumed, pinging again");
            withholding = false;
            notify("WATCHDOG=1");
            lock.lock();
            ++pings_;
        } else {
            if (!withholding) log_->error("withholding the systemd watchdog ping: {}", reason);
            withholding = true;
            lock.lock();
        }
        wake_.wait_for(lock, interval, [this] { return stop_; });
    }
}

}  // namespace tradingd::service
