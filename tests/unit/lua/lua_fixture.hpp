#pragma once
// Shared setup for the Lua strategy tests: a window + indicator set + context bound to a strategy,
// a logger that captures what scripts log, and helpers to build candles and snapshots.

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include <tradingd/indicators/indicator_set.hpp>
#include <tradingd/market/market_data_window.hpp>
#include <tradingd/strategy/context.hpp>
#include <tradingd/strategy/lua/lua_strategy.hpp>

namespace lua_test {

using namespace tradingd;
using namespace tradingd::strategy;
using namespace tradingd::strategy::lua;

/// A script whose three functions return nil; append or prepend code to it.
inline constexpr const char* nil_functions = R"(
function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end
)";

inline candle make_candle(int i, double close) {
    candle c;
    c.open_time = 1'600'000'000'000 + std::int64_t{i} * 60'000;
    c.close_time = c.open_time + 59'999;
    c.open = close - 0.5;
    c.high = close + 1.0;
    c.low = close - 1.5;
    c.close = close;
    c.volume = 10 + i;
    return c;
}

inline market_snapshot snapshot(double close, double bid, double ask) {
    market_snapshot m;
    m.bar = make_candle(0, close);
    m.bid = bid;
    m.ask = ask;
    return m;
}

struct fixture {
    market::market_data_window window{500};
    indicators::indicator_set ind{window};
    context ctx;
    named_scalars params;
    sandbox_limits limits;
    std::ostringstream log_text;
    std::shared_ptr<spdlog::logger> logger;

    fixture() {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(log_text);
        sink->set_pattern("[%l] %v");
        logger = std::make_shared<spdlog::logger>("lua-test", sink);
        logger->set_level(spdlog::level::debug);
    }

    strategy_binding binding(std::string symbol = "BTCUSDT") {
        strategy_binding b;
        b.symbol = std::move(symbol);
        b.interval = "1m";
        b.indicators = &ind;
        b.ctx = &ctx;
        b.params = params;
        b.logger = logger;
        return b;
    }

    result<std::unique_ptr<lua_strategy>> load(std::string_view source,
                                               std::string_view name = "sma_cross.lua",
                                               std::string symbol = "BTCUSDT") {
        return lua_strategy::load_source(name, source, binding(std::move(symbol)), limits);
    }

    std::unique_ptr<lua_strategy> must_load(std::string_view source,
                                            std::string symbol = "BTCUSDT") {
        auto r = load(source, "sma_cross.lua", std::move(symbol));
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error_message()));
        return std::move(r).value();
    }

    /// A closed candle reaches the window, then the indicators (the runner's order).
    void push(const candle& c) {
        window.push_closed(c);
        ind.on_closed(c);
    }

    template <class T>
    T ctx_value(std::string_view key) const {
        const scalar* v = ctx.get(key);
        REQUIRE_MESSAGE(v != nullptr, "ctx has no key " << key);
        REQUIRE(std::holds_alternative<T>(*v));
        return std::get<T>(*v);
    }
};

/// The error message of a failed result, or "" (so CHECKs print it on mismatch).
template <class T>
std::string error_of(const result<T>& r) {
    return r.ok() ? std::string() : r.error_message();
}

}  // namespace lua_test
