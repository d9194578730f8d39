#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include <tradingd/backtest/backtest.hpp>
#include <tradingd/feed/kline_file.hpp>

#include "test_support.hpp"

using namespace tradingd;
using tradingd::testing::make_candle;

TEST_CASE("backtest: inspect finds a hand-made gap, flat zero-volume and out-of-order candles") {
    std::vector<candle> cs;
    for (int i : {0, 1, 2, 6, 7})
        cs.push_back(make_candle(i, 100 + i, 99 + i));
    candle flat = make_candle(8, 50);
    flat.volume = 0;
    cs.push_back(flat);
    cs.push_back(make_candle(4, 100));  // out of order
    const auto r = backtest::inspect(cs, 60'000);
    CHECK(r.candles == 6);
    REQUIRE(r.gaps.size() == 1);
    CHECK(r.gaps[0].from == make_candle(3, 1).open_time);
    CHECK(r.gaps[0].missing == 3);
    CHECK(r.missing_candles == 3);
    CHECK(r.flat_zero_volume == 1);
    CHECK(r.out_of_order == 1);
}

TEST_CASE("backtest: inspect reports the real gaps of BTC_USDT-5m.json") {
    const auto cs = feed::read_kline_file(TRADINGD_SHARED_DIR "/binance-data/BTC_USDT-5m.json");
    REQUIRE(cs.size() == 65'741);
    const auto r = backtest::inspect(cs, 300'000);
    CHECK(r.candles == 65'741);
    CHECK(r.out_of_order == 0);
    // Measured on the file: these are exchange outages (and zero-trade 5 minutes).
    CHECK(r.gaps.size() > 0);
    CHECK(r.gaps.size() == 6);
    CHECK(r.missing_candles == 177);
    CHECK(r.flat_zero_volume > 0);
    CHECK(r.flat_zero_volume == 28);
    // The series spans exactly its candles plus the missing ones.
    const auto span = (cs.back().open_time - cs.front().open_time) / 300'000 + 1;
    CHECK(static_cast<std::size_t>(span) == r.candles + r.missing_candles);
}

TEST_CASE("backtest: aggregate builds epoch-aligned buckets and counts incomplete ones") {
    std::vector<candle> cs;
    // Minutes 0..4 (one complete 5m bucket), then minutes 5, 6 and 9 (an incomplete one).
    const double closes[] = {10, 12, 11, 15, 13, 14, 9, 16};
    const int minutes[] = {0, 1, 2, 3, 4, 5, 6, 9};
    for (int i = 0; i < 8; ++i)
        cs.push_back(make_candle(minutes[i], closes[i], closes[i] - 1));
    std::size_t incomplete = 99;
    const auto out = backtest::aggregate(cs, 60'000, 300'000, &incomplete);
    REQUIRE(out.size() == 2);
    CHECK(incomplete == 1);
    CHECK(out[0].open_time == cs[0].open_time);
    CHECK(out[0].close_time == cs[0].open_time + 300'000 - 1);
    CHECK(out[0].open == 9);
    CHECK(out[0].high == 15);
    CHECK(out[0].low == 9);
    CHECK(out[0].close == 13);
    CHECK(out[0].volume == 5);
    CHECK(out[1].open == 13);
    CHECK(out[1].low == 8);
    CHECK(out[1].close == 16);
    CHECK(out[1].volume == 3);
}

TEST_CASE("backtest: aggregating the 5m file's 2021-Q1 to 1h equals Binance's 1h candles") {
    const auto five = feed::read_kline_file(TRADINGD_SHARED_DIR "/binance-data/BTC_USDT-5m.json");
    const auto hours =
        feed::read_kline_file(TRADINGD_SHARED_DIR "/binance-data/BTCUSDT-1h-2021-Q1.csv");
    REQUIRE(!hours.empty());
    std::vector<candle> q1;
    for (const candle& c : five) {
        if (c.open_time >= hours.front().open_time && c.open_time <= hours.back().close_time) {
            q1.push_back(c);
        }
    }
    // Which hours have all 12 source candles.
    std::map<timestamp_ms, int> count;
    for (const candle& c : q1)
        ++count[c.open_time - c.open_time % 3'600'000];
    const auto agg = backtest::aggregate(q1, 300'000, 3'600'000);
    std::map<timestamp_ms, candle> by_open;
    for (const candle& c : agg)
        by_open[c.open_time] = c;
    std::size_t compared = 0;
    for (const candle& ref : hours) {
        if (count[ref.open_time] != 12) continue;
        const candle& a = by_open.at(ref.open_time);
        CHECK(a.open == ref.open);
        CHECK(a.high == ref.high);
        CHECK(a.low == ref.low);
        CHECK(a.close == ref.close);
        CHECK(a.volume == doctest::Approx(ref.volume).epsilon(1e-9));
        ++compared;
    }
    CHECK(compared > 2000);  // 2021-Q1 has 2160 hours
}
