#include <utility>

#include <tradingd/engine/symbol_runner.hpp>

namespace tradingd::engine {

symbol_runner::symbol_runner(std::unique_ptr<runner_core> core, std::size_t queue_capacity)
    : core_(std::move(core)), queue_(queue_capacity) {}

symbol_runner::~symbol_runner() {
    stop();
}

bool symbol_runner::push(const market_event& e) {
    return queue_.push(e);
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
        core_->on_event(*e);
        processed_.fetch_add(1, std::memory_order_relaxed);
    }
}

}  // namespace tradingd::engine
