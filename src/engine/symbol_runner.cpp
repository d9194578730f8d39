#include <chrono>
#include <utility>

#include <tradingd/engine/symbol_runner.hpp>

namespace tradingd::engine {

namespace {

std::int64_t steady_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Far longer than any normal event (a quote takes nanoseconds, a strategy call well under a
// millisecond), far shorter than any wedge limit (>= 10 ms).
constexpr std::int64_t k_stalled_after_ns = 1'000'000;
constexpr auto k_full_queue_poll = std::chrono::milliseconds(1);

}  // namespace

symbol_runner::symbol_runner(std::unique_ptr<runner_core> core, std::size_t queue_capacity)
    : core_(std::move(core)), symbol_(core_->summary().symbol), queue_(queue_capacity) {
    core_->attach_wedge_flag(&wedged_);
}

symbol_runner::~symbol_runner() {
    stop();
}

bool symbol_runner::push(const market_event& e) {
    // This is the only thread that adds to the queue, so once it has room, queue_.push cannot
    // block. While it is full, block on the queue only if the runner is moving; if it is stuck in
    // one event, poll until it moves again or the watchdog marks it wedged: a blocked push could
    // not be woken by the flag, and it would hold up every other symbol of the feed.
    while (queue_.size() >= queue_.capacity()) {
        if (queue_.closed()) return false;
        if (wedged()) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return true;
        }
        if (!stalled()) break;
        std::this_thread::sleep_for(k_full_queue_poll);
    }
    return queue_.push(e);
}

bool symbol_runner::stalled() const noexcept {
    const std::int64_t since = busy_since_ns();
    return since != 0 && steady_now_ns() - since > k_stalled_after_ns;
}

void symbol_runner::start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] { run(); });
}

void symbol_runner::stop() {
    queue_.close();
    if (thread_.joinable()) thread_.join();
}

void symbol_runner::run() {
    while (auto e = queue_.pop()) {
        // Published for the watchdog; the order (busy_since reset before processed counts the
        // event) lets a reader that sees the same processed() before and after reading
        // busy_since_ns() know which event the timestamp belongs to.
        busy_since_ns_.store(steady_now_ns(), std::memory_order_release);
        core_->on_event(*e);
        busy_since_ns_.store(0, std::memory_order_release);
        processed_.fetch_add(1, std::memory_order_release);
    }
}

}  // namespace tradingd::engine
