#pragma once
// symbol_runner: one runner_core on its own thread, fed through a bounded SPSC queue.
//
// The feed thread calls push() (it blocks while the queue is full: closed candles are never
// dropped). The runner thread pops events and calls runner_core::on_event; it is the only thread
// that touches the core while running. stop() closes the queue, lets the thread drain what was
// already queued, and joins; after that the core may be read from the stopping thread.
//
// Thread-safety: push() from one producer thread; start()/stop()/core() from the owning thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include <tradingd/core/event_sink.hpp>
#include <tradingd/engine/runner_core.hpp>
#include <tradingd/engine/spsc_queue.hpp>

namespace tradingd::engine {

class symbol_runner final : public event_sink {
public:
    symbol_runner(std::unique_ptr<runner_core> core, std::size_t queue_capacity);
    ~symbol_runner() override;  ///< stops and joins
    symbol_runner(const symbol_runner&) = delete;
    symbol_runner& operator=(const symbol_runner&) = delete;

    bool push(const market_event& e) override;
    void start();
    /// Closes the queue, drains it and joins the thread. Idempotent.
    void stop();
    /// The core; only valid to use while the runner is not running (before start / after stop).
    runner_core& core() noexcept { return *core_; }
    std::uint64_t processed() const noexcept { return processed_.load(std::memory_order_relaxed); }

private:
    void run();
    std::unique_ptr<runner_core> core_;
    spsc_queue<market_event> queue_;
    std::atomic<std::uint64_t> processed_{0};
    std::thread thread_;
};

}  // namespace tradingd::engine
