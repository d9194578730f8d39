#pragma once
// What the running daemon offers its operators besides trading: the status snapshot behind the
// HTTP endpoints and the systemd STATUS line, the kill switch's flatten, and the progress check
// behind the systemd watchdog. All of it reads what runners publish (symbol_runner::status())
// and posts work to them; nothing here touches a runner_core.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <tradingd/engine/risk.hpp>
#include <tradingd/engine/symbol_runner.hpp>
#include <tradingd/journal/journal.hpp>
#include <tradingd/status/daemon_status.hpp>

#include "market_feed.hpp"

namespace tradingd::cli {

/// The daemon's runners, readable from any thread while the main thread adds some (config
/// reload). Runners are never removed before the daemon stops.
class runner_registry {
public:
    void add(engine::symbol_runner* r);
    std::vector<engine::symbol_runner*> list() const;
    engine::symbol_runner* find(const std::string& symbol) const;

private:
    mutable std::mutex mutex_;
    std::vector<engine::symbol_runner*> runners_;  // guarded by mutex_
};

/// Everything a status snapshot is assembled from. Members must outlive the sources.
struct status_sources {
    std::string version;
    std::chrono::steady_clock::time_point started;
    const runner_registry* runners = nullptr;
    const market_feed* feed = nullptr;
    const journal::journal* journal = nullptr;
    const engine::risk_book* risk = nullptr;
    std::atomic<std::uint64_t> config_reloads{0};
    std::atomic<std::uint64_t> config_reload_failures{0};
};

status::daemon_status assemble_status(const status_sources& src);

/// One line for systemd's STATUS=: "3 symbols, 1 position open, realised P&L 12.30, feed
/// binance 2/2 open, journal ok" (+ "; HALTED", "; 1 suspended", ...).
std::string status_line(const status::daemon_status& s);

/// Posts a flatten to every runner; returns the symbols asked.
std::vector<std::string> flatten_all(const runner_registry& runners, const std::string& reason);
/// Posts a flatten to `symbol`'s runner; false when there is none.
bool flatten_symbol(const runner_registry& runners, const std::string& symbol,
                    const std::string& reason);

/// CLOCK_MONOTONIC in ns (steady_clock's epoch; what symbol_runner::busy_since_ns uses).
std::int64_t monotonic_ns() noexcept;

/// "" while the daemon makes progress; otherwise the reason: a runner busy in one event for
/// longer than `stuck_after`, or the main loop's last tick (`main_loop_tick_ns`, monotonic_ns()
/// at the tick; 0 = not checked) older than that. The systemd watchdog ping depends on it. A
/// runner the watchdog flagged wedged that has since finished its event is not a problem here
/// (the daemon goes on; its own watchdog exits when a runner stays stuck).
std::string progress_problem(const runner_registry& runners, std::chrono::milliseconds stuck_after,
                             std::int64_t main_loop_tick_ns);

}  // namespace tradingd::cli
