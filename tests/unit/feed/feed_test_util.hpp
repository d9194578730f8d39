#pragma once
// Helpers shared by the feed tests: config builders and recording sinks.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/core/event_sink.hpp>

namespace tradingd::feed::test {

inline config::sim_feed_config feed_cfg(std::uint64_t seed, std::int32_t ticks = 20,
                                        std::int32_t warmup = 0, double speed = 0) {
    config::sim_feed_config f;
    f.seed = seed;
    f.ticks_per_candle = ticks;
    f.warmup_candles = warmup;
    f.speed = speed;
    f.start_time = 1'704'067'200'000;
    return f;
}

inline config::symbol_config symbol_cfg(const std::string& name, std::int64_t interval = 60'000,
                                        double price = 100, double vol = 0.5, double drift = 0,
                                        double spread_bps = 2) {
    config::symbol_config s;
    s.symbol = name;
    s.interval_ms = interval;
    s.sim.start_price = price;
    s.sim.volatility = vol;
    s.sim.drift = drift;
    s.sim.spread_bps = spread_bps;
    return s;
}

/// Keeps the first `limit` events, then reports itself closed.
class recording_sink : public event_sink {
public:
    explicit recording_sink(std::size_t limit) : limit_(limit) {}
    bool push(const market_event& e) override {
        if (events.size() >= limit_) return false;
        events.push_back(e);
        return true;
    }
    std::vector<market_event> events;

private:
    std::size_t limit_;
};

}  // namespace tradingd::feed::test
