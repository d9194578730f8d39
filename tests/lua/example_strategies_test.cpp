// The example strategies in lua-strategies/ trade as their comments say, through the real runner.
#include <doctest/doctest.h>

#include <cmath>
#include <decision_capture.hpp>
#include <nlohmann/json.hpp>
#include <test_support.hpp>
#include <vector>

#include <tradingd/engine/runner_core.hpp>
#include <tradingd/feed/sim_feed.hpp>

using namespace tradingd;
using tradingd::testing::closed_event;
using tradingd::testing::make_candle;

namespace {

using tradingd::testing::capture_sink;

config::symbol_config example(const std::string& strategy, named_scalars params = {}) {
    config::symbol_config s;
    s.symbol = "TESTUSDT";
    s.strategy = strategy;
    s.strategy_path =
        std::filesystem::path(TRADINGD_SOURCE_DIR) / "lua-strategies" / (strategy + ".lua");
    s.window = 500;
    s.quantity = 1;
    s.params = std::move(params);
    return s;
}

struct harness {
    capture_sink sink;
    engine::runner_core runner;
    std::int64_t i = 0;
    explicit harness(const config::symbol_config& s)
        : runner(s, config::sandbox_config{}, config::paper_config{}, sink, nullptr) {
        REQUIRE_MESSAGE(!runner.load_error(), *runner.load_error());
    }
    void close_at(double price) { runner.on_event(closed_event(make_candle(i++, price))); }
    void close_bar(double open, double high, double low, double close) {
        runner.on_event(closed_event(make_candle(i++, close, open, high, low)));
    }
    strategy::phase phase() const { return runner.machine().current(); }
};

}  // namespace

TEST_CASE(
    "sma_cross: enters long when the fast SMA crosses above the slow one and exits on the "
    "cross back") {
    harness h(example("sma_cross", {{"fast", std::int64_t{3}}, {"slow", std::int64_t{8}}}));
    for (int k = 0; k < 20; ++k)
        h.close_at(100 - k * 0.5);  // downtrend: fast below slow
    CHECK(h.phase() == strategy::phase::idle);
    for (int k = 0; k < 30 && h.phase() != strategy::phase::in_position; ++k)
        h.close_at(90.5 + k * 1.0);  // uptrend: the cross happens, holds, entry
    REQUIRE(h.phase() == strategy::phase::in_position);
    const auto& pos = *h.runner.machine().current_position();
    CHECK(pos.direction == strategy::side::long_side);
    REQUIRE(pos.stop_loss.has_value());
    REQUIRE(pos.take_profit.has_value());
    CHECK(*pos.stop_loss < pos.entry_price);
    CHECK(*pos.take_profit > pos.entry_price);
    // A gentle decline crosses back without touching the stop: the strategy exits itself.
    const double start = h.runner.window().latest()->close;
    for (int k = 1; k < 30 && h.phase() == strategy::phase::in_position; ++k)
        h.close_at(start - k * 0.2);
    CHECK(h.phase() == strategy::phase::idle);
    const auto calls = h.sink.with_event("call");
    REQUIRE_FALSE(calls.empty());
    CHECK(calls.back()["action"] == "exit");
    CHECK(h.runner.summary().trades == 1);
}

TEST_CASE("rsi_reversion: buys an oversold bounce and exits when the RSI is back at 50") {
    harness h(
        example("rsi_reversion", {{"period", std::int64_t{5}}, {"atr_period", std::int64_t{5}}}));
    double p = 100;
    for (int k = 0; k < 10; ++k)
        h.close_bar(p, p + 0.6, p - 0.6, p + ((k % 2) ? 0.3 : -0.3));
    for (int k = 0; k < 6; ++k) {  // a sharp sell-off: RSI falls under 30 -> Analyzing
        h.close_bar(p, p + 0.2, p - 2.2, p - 2);
        p -= 2;
    }
    CHECK(h.phase() == strategy::phase::analyzing);
    for (int k = 0; k < 5 && h.phase() == strategy::phase::analyzing; ++k) {  // bounce
        h.close_bar(p, p + 1.6, p - 0.2, p + 1.5);
        p += 1.5;
    }
    REQUIRE(h.phase() == strategy::phase::in_position);
    CHECK(h.runner.machine().current_position()->direction == strategy::side::long_side);
    for (int k = 0; k < 10 && h.phase() == strategy::phase::in_position; ++k) {
        h.close_bar(p, p + 0.6, p - 0.1, p + 0.5);
        p += 0.5;
    }
    CHECK(h.phase() == strategy::phase::idle);
    CHECK(h.runner.summary().trades == 1);
}

TEST_CASE("rsi_reversion: shorts an overbought market") {
    harness h(
        example("rsi_reversion", {{"period", std::int64_t{5}}, {"atr_period", std::int64_t{5}}}));
    double p = 100;
    for (int k = 0; k < 10; ++k)
        h.close_bar(p, p + 0.6, p - 0.6, p + ((k % 2) ? 0.3 : -0.3));
    for (int k = 0; k < 6; ++k) {
        h.close_bar(p, p + 2.2, p - 0.2, p + 2);
        p += 2;
    }
    for (int k = 0; k < 5 && h.phase() != strategy::phase::in_position; ++k) {
        h.close_bar(p, p + 0.2, p - 1.6, p - 1.5);
        p -= 1.5;
    }
    REQUIRE(h.phase() == strategy::phase::in_position);
    CHECK(h.runner.machine().current_position()->direction == strategy::side::short_side);
}

TEST_CASE(
    "bollinger_breakout: a confirmed breakout above the upper band goes long; closing back "
    "under the middle band exits") {
    harness h(example("bollinger_breakout", {{"period", std::int64_t{10}}, {"k", 2.0}}));
    for (int k = 0; k < 30; ++k)
        h.close_at(100 + ((k % 2) ? 0.5 : -0.5));  // a quiet range
    h.close_at(104);                               // close above the upper band
    CHECK(h.phase() == strategy::phase::analyzing);
    h.close_at(107);  // and again: confirmed
    REQUIRE(h.phase() == strategy::phase::in_position);
    const auto& pos = *h.runner.machine().current_position();
    CHECK(pos.direction == strategy::side::long_side);
    CHECK(*pos.stop_loss < pos.entry_price);  // the middle band
    h.close_at(106);                          // still above the middle band
    CHECK(h.phase() == strategy::phase::in_position);
    for (int k = 0; k < 10 && h.phase() == strategy::phase::in_position; ++k)
        h.close_at(103 - k);
    CHECK(h.phase() == strategy::phase::idle);
    CHECK(h.runner.summary().trades == 1);
}

TEST_CASE("bollinger_breakout: an unconfirmed breakout is cancelled") {
    harness h(example("bollinger_breakout", {{"period", std::int64_t{10}}, {"k", 2.0}}));
    for (int k = 0; k < 30; ++k)
        h.close_at(100 + ((k % 2) ? 0.5 : -0.5));
    h.close_at(104);
    CHECK(h.phase() == strategy::phase::analyzing);
    h.close_at(100);  // back inside
    CHECK(h.phase() == strategy::phase::idle);
    const auto calls = h.sink.with_event("call");
    REQUIRE_FALSE(calls.empty());
    CHECK(calls.back()["action"] == "cancel_analysis");
}

TEST_CASE("examples: each strategy trades on the simulated feed, without a single error") {
    for (const char* name : {"sma_cross", "rsi_reversion", "bollinger_breakout"}) {
        CAPTURE(name);
        auto sym = example(name);
        sym.sim.start_price = 30000;
        sym.sim.volatility = 0.8;
        config::sim_feed_config feed;
        feed.seed = 42;
        feed.ticks_per_candle = 10;
        feed::sim_generator gen(feed, sym, 0);
        capture_sink sink;
        engine::runner_core r(sym, config::sandbox_config{}, config::paper_config{}, sink, nullptr);
        REQUIRE_FALSE(r.load_error());
        for (int k = 0; k < 3000 * 21; ++k)
            r.on_event(gen.next());  // 3000 candles
        const auto s = r.summary();
        CHECK(s.trades >= 3);
        CHECK(s.strategy_errors == 0);
        CHECK_FALSE(s.suspended);
        CHECK(std::isfinite(s.realized_pnl));
    }
}
