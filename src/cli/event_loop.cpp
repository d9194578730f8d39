#include "event_loop.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace tradingd::cli {

event_loop::event_loop(const sigset_t& signals) : fd_(::signalfd(-1, &signals, SFD_CLOEXEC)) {
    if (fd_ < 0) {
        throw std::runtime_error("cannot create a signalfd: " +
                                 std::generic_category().message(errno));
    }
}

event_loop::~event_loop() {
    if (fd_ >= 0) ::close(fd_);
}

int event_loop::read_signals() {
    signalfd_siginfo info{};
    int stop = 0;
    // Blocking descriptor, but only read after poll reported it readable: one read per signal.
    while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        const int sig = static_cast<int>(info.ssi_signo);
        if (sig == SIGHUP) {
            spdlog::info("SIGHUP: reloading the configuration");
            if (on_reload_config) on_reload_config();
        } else if (sig == SIGUSR1) {
            spdlog::warn("SIGUSR1: engaging the kill switch");
            if (on_halt_signal) on_halt_signal();
        } else {
            stop = sig;
        }
        pollfd more{fd_, POLLIN, 0};
        if (stop != 0 || ::poll(&more, 1, 0) <= 0) break;
    }
    return stop;
}

int event_loop::run(std::optional<clock::time_point> end, reload::script_watcher* watcher) {
    next_tick_ = clock::now() + tick_interval;
    for (;;) {
        const bool watching = watcher != nullptr && watcher->fd() >= 0;
        pollfd fds[2] = {{fd_, POLLIN, 0}, {watching ? watcher->fd() : -1, POLLIN, 0}};
        std::optional<clock::time_point> wake = end;
        if (on_tick) wake = wake ? std::min(*wake, next_tick_) : next_tick_;
        if (watcher != nullptr) {
            if (auto d = watcher->next_deadline()) wake = wake ? std::min(*wake, *d) : *d;
        }
        int timeout_ms = -1;
        if (wake) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(*wake - clock::now());
            timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000));
        }
        const int n = ::poll(fds, 2, timeout_ms);
        if (n < 0 && errno != EINTR) {
            spdlog::error("event loop: poll failed: {}", std::generic_category().message(errno));
        }
        const auto now = clock::now();
        if (n > 0 && (fds[0].revents & POLLIN) != 0) {
            if (const int sig = read_signals()) return sig;
        }
        if (watcher != nullptr) {
            if (n > 0 && (fds[1].revents & POLLIN) != 0) {
                watcher->drain(now);
                if (!watcher->error().empty()) spdlog::error("hot reload: {}", watcher->error());
            }
            auto due = watcher->take_due(now);
            if (!due.empty() && on_script_changes) on_script_changes(due);
        }
        if (on_tick && now >= next_tick_) {
            next_tick_ = now + tick_interval;
            on_tick();
        }
        if (end && now >= *end) return 0;
    }
}

}  // namespace tradingd::cli
