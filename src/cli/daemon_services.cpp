#include "daemon_services.hpp"

#include <spdlog/fmt/fmt.h>
#include <time.h>

#include <algorithm>

namespace tradingd::cli {

void runner_registry::add(engine::symbol_runner* r) {
    std::lock_guard lock(mutex_);
    runners_.push_back(r);
}

std::vector<engine::symbol_runner*> runner_registry::list() const {
    std::lock_guard lock(mutex_);
    return runners_;
}

engine::symbol_runner* runner_registry::find(const std::string& symbol) const {
    std::lock_guard lock(mutex_);
    for (auto* r : runners_) {
        if (r->symbol() == symbol) return r;
    }
    return nullptr;
}

status::daemon_status assemble_status(const status_sources& src) {
    status::daemon_status s;
    s.version = src.version;
    s.now_wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    s.uptime_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - src.started).count();
    if (src.runners != nullptr) {
        for (const auto* r : src.runners->list())
            s.runners.push_back(r->status());
    }
    if (src.feed != nullptr) {
        s.feed_description = src.feed->describe();
        s.feed = src.feed->status();
    }
    if (src.journal != nullptr) {
        const journal::journal_stats j = src.journal->stats();
        s.journal.healthy = j.healthy;
        s.journal.failure = j.failure;
        s.journal.appended = j.appended;
        s.journal.last_seq = j.last_seq;
        s.journal.synced_seq = j.synced_seq;
    }
    if (src.risk != nullptr) s.risk = src.risk->snapshot();
    s.config_reloads = src.config_reloads.load(std::memory_order_relaxed);
    s.config_reload_failures = src.config_reload_failures.load(std::memory_order_relaxed);
    return s;
}

std::string status_line(const status::daemon_status& s) {
    std::size_t open = 0;
    std::size_t suspended = 0;
    std::size_t wedged = 0;
    double realised = 0;
    for (const auto& r : s.runners) {
        open += r.position ? 1 : 0;
        suspended += r.suspended ? 1 : 0;
        wedged += r.wedged ? 1 : 0;
        realised += r.realized_pnl;
    }
    std::string line = fmt::format("{} symbols, {} position{} open, realised P&L {:.2f}",
                                   s.runners.size(), open, open == 1 ? "" : "s", realised);
    if (s.feed.connections.empty()) {
        line += fmt::format(", feed {} {}", s.feed.type, s.feed.running ? "running" : "stopped");
    } else {
        const auto up = std::count_if(s.feed.connections.begin(), s.feed.connections.end(),
                                      [](const auto& c) { return c.state == "open"; });
        line += fmt::format(", feed {} {}/{} open", s.feed.type, up, s.feed.connections.size());
    }
    line += s.journal.healthy ? ", journal ok" : ", JOURNAL FAILED";
    if (suspended > 0) line += fmt::format("; {} suspended", suspended);
    if (wedged > 0) line += fmt::format("; {} WEDGED", wedged);
    if (s.risk.halted) line += "; HALTED (kill switch)";
    return line;
}

std::vector<std::string> flatten_all(const runner_registry& runners, const std::string& reason) {
    std::vector<std::string> asked;
    for (auto* r : runners.list()) {
        if (r->post([reason](engine::runner_core& core) { core.flatten(reason); })) {
            asked.push_back(r->symbol());
        }
    }
    return asked;
}

bool flatten_symbol(const runner_registry& runners, const std::string& symbol,
                    const std::string& reason) {
    auto* r = runners.find(symbol);
    if (r == nullptr) return false;
    r->post([reason](engine::runner_core& core) { core.flatten(reason); });
    return true;
}

std::int64_t monotonic_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string progress_problem(const runner_registry& runners, std::chrono::milliseconds stuck_after,
                             std::int64_t main_loop_tick_ns) {
    const std::int64_t now_ns = monotonic_ns();
    if (main_loop_tick_ns != 0 && now_ns - main_loop_tick_ns > stuck_after.count() * 1'000'000) {
        return fmt::format("the main loop has not run for {} ms",
                           (now_ns - main_loop_tick_ns) / 1'000'000);
    }
    for (const auto* r : runners.list()) {
        const std::int64_t busy = r->busy_since_ns();
        if (busy != 0 && now_ns - busy > stuck_after.count() * 1'000'000) {
            return fmt::format("{}: busy in one event for {} ms", r->symbol(),
                               (now_ns - busy) / 1'000'000);
        }
    }
    return {};
}

}  // namespace tradingd::cli
