#include <doctest/doctest.h>

#include <tradingd/backtest/backtest.hpp>

#include "test_support.hpp"

using namespace tradingd;
using tradingd::testing::make_candle;

TEST_CASE("backtest: an up candle nearer its low goes open, low, high, close, then closes") {
    // open 100, low 99 (1 away), high 105 (5 away): the low is nearer the open, so it comes first.
    const candle c = make_candle(0, 104, 100, 105, 99);
    const auto ev = backtest::candle_events(c, backtest::intrabar_model{0});
    const double mids[] = {100, 99, 105, 104};
    for (int i = 0; i < 4; ++i) {
        CHECK(ev[i].kind == event_kind::quote);
        CHECK(ev[i].bid == doctest::Approx(mids[i]));
        CHECK(ev[i].ask == doctest::Approx(mids[i]));
    }
    CHECK(ev[4].kind == event_kind::candle_closed);
    CHECK(ev[4].ts == c.close_time);
    CHECK(ev[4].bar.close == 104);
    CHECK(ev[4].bid == doctest::Approx(104));
    for (int i = 0; i < 4; ++i) {
        CHECK(ev[i].ts >= c.open_time);
        CHECK(ev[i].ts < ev[i + 1].ts);
    }
    CHECK(ev[0].ts == c.open_time);
}

TEST_CASE("backtest: a down candle nearer its high goes open, high, low, close") {
    const candle c = make_candle(0, 95, 100, 101, 94);
    const auto ev = backtest::candle_events(c, backtest::intrabar_model{0});
    CHECK(ev[1].bid == doctest::Approx(101));
    CHECK(ev[2].bid == doctest::Approx(94));
    CHECK(ev[3].bid == doctest::Approx(95));
}

TEST_CASE("backtest: equal distances take the high first") {
    const candle c = make_candle(0, 100, 100, 102, 98);
    const auto ev = backtest::candle_events(c, backtest::intrabar_model{0});
    CHECK(ev[1].bid == doctest::Approx(102));
    CHECK(ev[2].bid == doctest::Approx(98));
}

TEST_CASE("backtest: every quote is its price +- half the spread") {
    const candle c = make_candle(0, 104, 100, 105, 99);
    const auto ev = backtest::candle_events(c, backtest::intrabar_model{20});  // 0.2 %
    CHECK(ev[0].bid == doctest::Approx(99.9));
    CHECK(ev[0].ask == doctest::Approx(100.1));
    CHECK(ev[2].ask == doctest::Approx(105 * 1.001));
    CHECK(ev[4].bid == doctest::Approx(104 * 0.999));
    CHECK(ev[4].ask == doctest::Approx(104 * 1.001));
    for (const auto& e : ev)
        CHECK(e.ask - e.bid > 0);
}
