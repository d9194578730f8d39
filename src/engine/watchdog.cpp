#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <tradingd/engine/watchdog.hpp>

namespace tradingd::engine {

namespace {

using std::chrono::milliseconds;

// The same clock the runners stamp their events with (symbol_runner.cpp): CLOCK_MONOTONIC_COARSE,
// so both sides lag the precise clock by the same kernel tick and durations stay accurate to it.
std::int64_t steady_now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t to_ms(std::int64_t ns) noexcept {
    return ns / 1'000'000;
}

std::int64_t to_ns(milliseconds ms) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

void validate(const watchdog_limits& limits, const watchdog::fatal_handler& on_fatal) {
    if (limits.wedge_after <= milliseconds::zero()) {
        throw std::invalid_argument("watchdog: wedge_after must be > 0");
    }
    if (limits.exit_after <= limits.wedge_after) {
        throw std::invalid_argument("watchdog: exit_after must be greater than wedge_after");
    }
    if (!on_fatal) throw std::invalid_argument("watchdog: on_fatal handler is required");
}

}  // namespace

watchdog_limits to_watchdog_limits(const config::sandbox_config& s) {
    return {milliseconds(s.wedge_after_ms), milliseconds(s.wedge_exit_after_ms)};
}

watchdog::watchdog(watchdog_limits limits, fatal_handler on_fatal,
                   std::shared_ptr<spdlog::logger> logger)
    : limits_(limits),
      interval_(std::clamp(limits.wedge_after / 4, milliseconds(5), milliseconds(100))),
      on_fatal_(std::move(on_fatal)),
      log_(logger ? std::move(logger) : spdlog::default_logger()) {
    validate(limits_, on_fatal_);
    thread_ = std::thread([this] { run(); });
}

watchdog::~watchdog() {
    stop();
}

void watchdog::watch(symbol_runner& runner) {
    std::lock_guard lock(mutex_);
    watched w;
    w.runner = &runner;
    runners_.push_back(w);
}

void watchdog::stop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void watchdog::run() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
        const std::vector<std::string> fatal = check(steady_now_ns());
        if (fatal.empty()) continue;
        // The daemon's handler exits the process; a test's handler may take a lock of its own.
        lock.unlock();
        for (const auto& reason : fatal)
            on_fatal_(reason);
        lock.lock();
    }
}

std::vector<std::string> watchdog::check(std::int64_t now_ns) {
    std::vector<std::string> fatal;
    for (auto& w : runners_)
        check_one(w, now_ns, fatal);
    return fatal;
}

void watchdog::check_one(watched& w, std::int64_t now_ns, std::vector<std::string>& fatal) {
    symbol_runner& r = *w.runner;
    const std::string& sym = r.symbol();
    // processed() is bumped only after busy_since is reset, so an unchanged count around the
    // read means `since` belongs to event number `before` (the one in progress).
    const std::uint64_t before = r.processed();
    const std::int64_t since = r.busy_since_ns();
    const std::uint64_t after = r.processed();

    if (w.stuck && after > w.stuck_event) {
        w.stuck = false;
        const std::uint64_t dropped = r.dropped();
        if (dropped == 0) {
            log_->warn("{}: runner recovered after {} ms; strategy stays suspended", sym,
                       to_ms(now_ns - w.stuck_since_ns));
        } else {
            log_->warn(
                "{}: runner recovered after {} ms; strategy stays suspended; {} events were "
                "dropped while its queue was full",
                sym, to_ms(now_ns - w.stuck_since_ns), dropped);
        }
    }
    if (w.stuck && !w.drops_reported && r.dropped() > 0) {
        w.drops_reported = true;
        log_->error(
            "{}: event queue full while the runner is wedged; its events are dropped so the "
            "other symbols keep their pace",
            sym);
    }
    if (since == 0 || before != after) return;  // idle, or moving on to the next event

    const std::int64_t busy_ns = now_ns - since;
    if (!w.stuck && busy_ns >= to_ns(limits_.wedge_after)) {
        r.mark_wedged();
        w.stuck = true;
        w.stuck_event = before;
        w.stuck_since_ns = since;
        w.fatal_reported = false;
        log_->critical(
            "{}: runner wedged: one event has taken {} ms (limit {} ms); new entries blocked; "
            "open positions cannot be managed while it is stuck",
            sym, to_ms(busy_ns), limits_.wedge_after.count());
    }
    if (w.stuck && !w.fatal_reported && busy_ns >= to_ns(limits_.exit_after)) {
        w.fatal_reported = true;
        std::string reason = fmt::format(
            "{}: runner still stuck in one event after {} ms (exit limit {} ms); it cannot be "
            "stopped from inside the process",
            sym, to_ms(busy_ns), limits_.exit_after.count());
        log_->critical("{}", reason);
        fatal.push_back(std::move(reason));
    }
}

}  // namespace tradingd::engine
