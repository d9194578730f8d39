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
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/core/event_sink.hpp>
#include <tradingd/core/market_types.hpp>

namespace tradingd::feed {

class sim_generator {
public:
    /// Throws std::invalid_argument for unusable parameters (ticks_per_candle < 1, negative
    /// warm-up, interval_ms <= 0, start_price not finite and > 0, negative volatility, a spread
    /// not in [0, 20000) bps).
    sim_generator(const config::sim_feed_config& feed, const config::symbol_config& symbol,
                  std::uint32_t symbol_index);
    /// The next event in this symbol's sequence.
    market_event next();
    /// Event time of the event next() will return.
    timestamp_ms peek_time() const noexcept;

private:
    enum class stage : std::uint8_t { quote, update, closed };

    market_event produce();  // computes the event that follows pending_
    void tick();             // one GBM step: moves the mid, updates the quote and forming candle
    void finish_candle() noexcept;
    timestamp_ms tick_time(std::int32_t k) const noexcept;
    market_event make_event(event_kind kind, timestamp_ms ts, bool warmup) const noexcept;

    std::mt19937_64 rng_;
    std::normal_distribution<double> normal_{0.0, 1.0};
    std::uint32_t symbol_index_;
    std::int32_t ticks_per_candle_;
    std::int32_t warmup_candles_;
    std::int64_t interval_ms_;
    double half_spread_;  // fraction of the mid on each side
    double step_drift_;   // (drift - vol^2/2) * dt
    double step_vol_;     // vol * sqrt(dt)
    double mid_;
    double bid_ = 0;
    double ask_ = 0;
    candle forming_{};
    std::int32_t tick_ = 0;  // ticks done in the forming candle
    stage stage_ = stage::quote;
    std::int64_t candles_done_ = 0;
    market_event pending_{};  // what next() returns; computed one event ahead for peek_time
};

class sim_feed {
public:
    /// `sinks[i]` receives the events of `symbols[i]`; the sinks must outlive the feed. Throws
    /// std::invalid_argument when the sizes differ, a sink is null, speed is not finite and >= 0,
    /// or a symbol's parameters are unusable (see sim_generator).
    sim_feed(const config::sim_feed_config& feed, const std::vector<config::symbol_config>& symbols,
             std::vector<event_sink*> sinks);
    ~sim_feed();  ///< stops and joins
    sim_feed(const sim_feed&) = delete;
    sim_feed& operator=(const sim_feed&) = delete;

    /// Starts the feed thread. Throws std::logic_error when called a second time.
    void start();
    /// Asks the thread to stop and joins it. Idempotent. A sink blocked in push() must be
    /// closed (or drained) by its owner for the join to complete.
    void stop();
    /// Adds a symbol while the feed runs (a config reload): it gets `warmup_candles` of history
    /// ending at the feed's current time (delivered at once, flagged warm-up), then live events
    /// from the next candle boundary on, interleaved with the others. `sink` must outlive the
    /// feed. Thread-safe. Throws std::invalid_argument for unusable parameters (as the
    /// constructor).
    void add_symbol(const config::symbol_config& symbol, event_sink* sink);
    /// Events delivered so far (all symbols).
    std::uint64_t events_sent() const noexcept { return sent_.load(std::memory_order_relaxed); }

private:
    void run();
    /// Moves symbols added since the last call into the running set (feed thread).
    void adopt_added(std::vector<bool>& open, std::size_t& open_count);
    config::sim_feed_config feed_;
    std::vector<std::string> names_;  // symbol names, for logs
    std::vector<sim_generator> gens_;
    std::vector<event_sink*> sinks_;
    std::atomic<bool> stop_{false};
    std::atomic<timestamp_ms> live_time_{0};  ///< time of the last live event sent (0: none yet)
    std::mutex add_mutex_;
    struct added_symbol {
        sim_generator gen;
        event_sink* sink;
        std::string name;
    };
    std::vector<added_symbol> added_;  // guarded by add_mutex_
    std::uint32_t symbol_count_ = 0;   // guarded by add_mutex_ (seeds each symbol's path)
    std::atomic<bool> added_pending_{false};
    std::atomic<std::uint64_t> sent_{0};
    bool started_ = false;
    std::thread thread_;
};

}  // namespace tradingd::feed
