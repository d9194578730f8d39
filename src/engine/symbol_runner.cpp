#include <spdlog/spdlog.h>
#include <time.h>

#include <chrono>
#include <utility>

#include <tradingd/engine/symbol_runner.hpp>

namespace tradingd::engine {

namespace {

// The monotonic clock at the kernel tick's resolution (1-4 ms): read once per event, so it must
// be cheap (~5 ns against ~25 ns for steady_clock), and the watchdog works in tens of
// milliseconds. Same epoch as steady_clock (CLOCK_MONOTONIC), which the watchdog reads.
std::int64_t steady_now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

symbol_runner::symbol_runner(std::unique_ptr<runner_core> core, std::size_t queue_capacity)
    : core_(std::move(core)), symbol_(core_->symbol()), queue_(queue_capacity) {
    core_->attach_wedge_flag(&wedged_);
}

symbol_runner::~symbol_runner() {
    stop();
}

bool symbol_runner::push(const market_event& e) {
    // Blocks while the queue is full (closed candles are never dropped for a runner that is
    // merely busy). A runner the watchdog marked wedged cannot drain its queue; mark_wedged()
    // interrupts this wait, and from then on events that find the queue full are dropped and
    // counted, so one stuck symbol cannot hold up the feed of every other symbol.
    const auto r = queue_.push_unless(e, [this] { return wedged(); });
    if (r == spsc_queue<market_event>::push_result::gave_up) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    return r == spsc_queue<market_event>::push_result::pushed;
}

event_sink::offer_result symbol_runner::offer(const market_event& e) {
    const auto r = queue_.push_unless(e, [] { return true; });
    if (r == spsc_queue<market_event>::push_result::pushed) return offer_result::accepted;
    if (r == spsc_queue<market_event>::push_result::closed) return offer_result::closed;
    if (wedged()) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return offer_result::accepted;
    }
    return offer_result::full;
}

void symbol_runner::mark_wedged() noexcept {
    wedged_.store(true, std::memory_order_release);
    queue_.interrupt_producer();
}

void symbol_runner::start() {
    if (thread_.joinable()) return;
    publish_status(steady_now_ns());  // the restored state is visible before the first event
    thread_ = std::thread([this] { run(); });
}

void symbol_runner::publish_status(std::int64_t now_ns) {
    core_->fill_status(scratch_);
    const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    scratch_.published_wall_ms = wall_ms;
    scratch_.last_event_wall_ms =
        last_event_ns_ == 0 ? 0 : wall_ms - (now_ns - last_event_ns_) / 1'000'000;
    {
        std::lock_guard lock(status_mutex_);
        std::swap(published_, scratch_);
    }
    last_publish_ns_ = now_ns;
    published_records_ = core_->records_made();
}

status::runner_status symbol_runner::status() const {
    status::runner_status s;
    {
        std::lock_guard lock(status_mutex_);
        s = published_;
    }
    s.wedged = wedged();
    s.events_dropped = dropped();
    return s;
}

void symbol_runner::stop() {
    {
        std::lock_guard lock(commands_mutex_);
        accepting_commands_ = false;
    }
    queue_.close();
    if (thread_.joinable()) thread_.join();
}

bool symbol_runner::post(command c) {
    {
        std::lock_guard lock(commands_mutex_);
        if (!accepting_commands_) return false;
        commands_.push_back(std::move(c));
        commands_pending_.store(true, std::memory_order_release);
    }
    queue_.interrupt_consumer();
    return true;
}

void symbol_runner::run_commands() {
    std::vector<command> batch;
    {
        std::lock_guard lock(commands_mutex_);
        batch.swap(commands_);
        commands_pending_.store(false, std::memory_order_release);
    }
    for (auto& c : batch) {
        // Watched like an event: a command runs script code (on_reload) under the same limits.
        busy_since_ns_.store(steady_now_ns(), std::memory_order_release);
        try {
            c(*core_);
        } catch (const std::exception& e) {
            spdlog::error("{}: a runner command failed: {}", symbol_, e.what());
        }
        busy_since_ns_.store(0, std::memory_order_release);
    }
    publish_status(steady_now_ns());
}

void symbol_runner::run() {
    const auto commands_waiting = [this] {
        return commands_pending_.load(std::memory_order_acquire);
    };
    market_event e;
    for (;;) {
        if (commands_waiting()) run_commands();
        const auto got = queue_.pop_unless(e, commands_waiting);
        if (got == spsc_queue<market_event>::pop_status::closed) break;
        if (got == spsc_queue<market_event>::pop_status::interrupted) continue;
        // Published for the watchdog; the order (busy_since reset before processed counts the
        // event) lets a reader that sees the same processed() before and after reading
        // busy_since_ns() know which event the timestamp belongs to.
        const std::int64_t started = steady_now_ns();
        busy_since_ns_.store(started, std::memory_order_release);
        core_->on_event(e);
        busy_since_ns_.store(0, std::memory_order_release);
        processed_.fetch_add(1, std::memory_order_release);
        last_event_ns_ = started;
        // Publish what changed at once; otherwise at most every millisecond when the queue
        // runs empty (so an idle runner's copy is current) and every publish_interval_ns while
        // busy. A quote stream therefore costs one copy per millisecond at most.
        const std::int64_t since = started - last_publish_ns_;
        if (core_->records_made() != published_records_ || since >= publish_interval_ns ||
            (since >= 1'000'000 && queue_.size() == 0)) {
            publish_status(steady_now_ns());
        }
    }
    // Commands posted before stop() began still run (e.g. a reload that raced with shutdown).
    if (commands_waiting()) run_commands();
}

}  // namespace tradingd::engine
