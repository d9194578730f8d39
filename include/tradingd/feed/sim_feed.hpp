#pragma once
// The simulated feed: deterministic per-symbol geometric Brownian motion.
//
// sim_generator is pure: for a given (seed, symbol index, parameters) it always produces the same
// event sequence, whatever the pacing or thread timing. Each candle is `ticks_per_candle` ticks;
// each tick moves the mid by one GBM step (dt = interval / ticks, annualised drift and
// volatility), and emits a quote event then a candle_update event for the forming candle; the
// last tick of a candle is followed by a candle_closed event. Bid/ask straddle the mid by half the
// spread. Warm-up candles (config warmup_candles) come first, flagged `warmup`.
//
// sim_feed runs one thread that interleaves all symbols in event-time order and paces them:
// speed 1 = real time, N = N times faster, 0 = as fast as the sinks accept.
//
// Thread-safety: sim_generator: distinct objects safe. sim_feed: start/stop from one thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/core/event_sink.hpp>
#include <tradingd/core/market_types.hpp>

namespace tradingd::feed {

class sim_generator {
public:
    sim_generator(const config::sim_feed_config& feed, const config::symbol_config& symbol,
                  std::uint32_t symbol_index);
    /// The next event in this symbol's sequence.
    market_event next();
    /// Event time of the event next() will return.
    timestamp_ms peek_time() const noexcept;

private:
    // implementation-defined state (RNG, current mid, forming candle, tick index, ...)
    std::mt19937_64 rng_;
    std::normal_distribution<double> normal_{0.0, 1.0};
    config::sim_feed_config feed_;
    config::sim_symbol_config params_;
    std::uint32_t symbol_index_;
    std::int64_t interval_ms_;
    double mid_;
    double step_drift_;
    double step_vol_;
    candle forming_{};
    std::int32_t tick_ = 0;           // ticks done in the forming candle
    std::int32_t stage_ = 0;          // which event of the tick comes next
    std::int64_t candles_done_ = 0;
    double bid_ = 0, ask_ = 0;
};

class sim_feed {
public:
    /// `sinks[i]` receives the events of `symbols[i]`.
    sim_feed(const config::sim_feed_config& feed, const std::vector<config::symbol_config>& symbols,
             std::vector<event_sink*> sinks);
    ~sim_feed();  ///< stops and joins
    sim_feed(const sim_feed&) = delete;
    sim_feed& operator=(const sim_feed&) = delete;

    void start();
    /// Asks the thread to stop and joins it. Idempotent.
    void stop();
    /// Events delivered so far (all symbols).
    std::uint64_t events_sent() const noexcept { return sent_.load(std::memory_order_relaxed); }

private:
    void run();
    config::sim_feed_config feed_;
    std::vector<sim_generator> gens_;
    std::vector<event_sink*> sinks_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> sent_{0};
    std::thread thread_;
};

}  // namespace tradingd::feed
