#pragma once
// fuzz_harness: what both fuzz targets share. One strategy binding as a runner builds it (window,
// indicator set, context, params, a logger that discards everything), the small sandbox limits the
// fuzz contract is stated for, and plausible market data to call the strategy with.
//
// The fuzz contract (docs/fuzzing.md): for any input, loading and calling a strategy returns a
// value or an error; it never crashes, never trips ASan/UBSan, and never runs past the sandbox
// budget (libFuzzer's -timeout catches a hang).
//
// Lifetime: a harness owns everything the binding points to; keep it alive while the strategy it
// loaded is used (declare the strategy after the harness).

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include <tradingd/indicators/indicator_set.hpp>
#include <tradingd/market/market_data_window.hpp>
#include <tradingd/strategy/context.hpp>
#include <tradingd/strategy/lua/lua_strategy.hpp>
#include <tradingd/strategy/position.hpp>

namespace tradingd::fuzz {

/// The limits the fuzz contract is checked under: small, so one input costs at most a few hundred
/// milliseconds even when a script spins until its budget trips.
inline strategy::lua::sandbox_limits fuzz_limits() {
    strategy::lua::sandbox_limits l;
    l.memory_limit_bytes = std::size_t{16} << 20;
    l.instruction_budget = 200'000;
    l.time_limit = std::chrono::milliseconds{100};
    l.max_script_bytes = std::size_t{64} << 10;
    return l;
}

/// A one-minute candle `i` minutes after a fixed start, around `close` (always a valid candle).
inline candle make_candle(std::int64_t i, double close) {
    candle c;
    c.open_time = 1'600'000'000'000 + i * 60'000;
    c.close_time = c.open_time + 59'999;
    c.open = close - 0.25;
    c.high = close + 1.0;
    c.low = close - 1.5;
    c.close = close;
    c.volume = 10.0 + static_cast<double>(i % 7);
    return c;
}

/// A deterministic, gently oscillating close series, so indicators have varied values.
inline double close_at(std::int64_t i) {
    static constexpr double wave[] = {0.0, 0.8, 1.5, 0.9, -0.4, -1.2, -0.6, 0.3};
    return 100.0 + wave[i % 8] + static_cast<double>(i % 29) * 0.05;
}

/// A logger that formats (so `log.*` and `print` run their full path) and discards.
inline std::shared_ptr<spdlog::logger> discarding_logger() {
    static const auto logger = [] {
        auto l = std::make_shared<spdlog::logger>("fuzz",
                                                  std::make_shared<spdlog::sinks::null_sink_mt>());
        l->set_level(spdlog::level::trace);
        return l;
    }();
    return logger;
}

class harness {
public:
    /// Number of closed candles in the window before the script is loaded: enough for the
    /// indicators the example strategies use (sma(30), rsi(14), bollinger(20, 2)) to be ready.
    static constexpr std::int64_t warmup_candles = 40;

    harness() {
        for (std::int64_t i = 0; i < warmup_candles; ++i)
            push(make_candle(i, close_at(i)));
        next_ = warmup_candles;
    }

    strategy::lua::strategy_binding binding() {
        strategy::lua::strategy_binding b;
        b.symbol = "BTCUSDT";
        b.interval = "1m";
        b.indicators = &ind_;
        b.ctx = &ctx_;
        b.params = {{"fast", std::int64_t{10}},
                    {"slow", std::int64_t{30}},
                    {"risk_reward", 2.0},
                    {"note", std::string{"fuzz"}},
                    {"enabled", true}};
        b.logger = discarding_logger();
        return b;
    }

    /// Closes the next candle: into the window, then into the indicators (the runner's order).
    candle advance() {
        const candle c = make_candle(next_, close_at(next_));
        ++next_;
        push(c);
        return c;
    }

    /// What a runner hands the script after `bar` closed: a quote one tick either side of close.
    static strategy::lua::market_snapshot snapshot(const candle& bar) {
        strategy::lua::market_snapshot m;
        m.bar = bar;
        m.closed = true;
        m.bid = bar.close - 0.5;
        m.ask = bar.close + 0.5;
        return m;
    }

    /// An open long (or short) entered a few candles ago near `price`, with a stop and a target.
    static strategy::position open_position(strategy::side direction, double price) {
        strategy::position p;
        p.direction = direction;
        p.quantity = 0.25;
        p.entry_price = price;
        const bool is_long = direction == strategy::side::long_side;
        p.stop_loss = is_long ? price * 0.98 : price * 1.02;
        p.take_profit = is_long ? price * 1.04 : price * 0.96;
        p.entry_fee = 0.025;
        p.opened_at = 1'600'000'000'000;
        p.bars_held = 3;
        return p;
    }

    strategy::context& ctx() noexcept { return ctx_; }

private:
    void push(const candle& c) {
        window_.push_closed(c);
        ind_.on_closed(c);
    }

    market::market_data_window window_{128};
    indicators::indicator_set ind_{window_};
    strategy::context ctx_;
    std::int64_t next_ = 0;
};

}  // namespace tradingd::fuzz
