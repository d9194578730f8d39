#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include <tradingd/feed/sim_feed.hpp>

#include "feed_test_util.hpp"

using namespace tradingd;
using namespace tradingd::feed;
using namespace tradingd::feed::test;

namespace {

std::vector<market_event> take(sim_generator& g, std::size_t n) {
    std::vector<market_event> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(g.next());
    return out;
}

bool same_candle(const candle& a, const candle& b) {
    return a.open_time == b.open_time && a.close_time == b.close_time && a.open == b.open &&
           a.high == b.high && a.low == b.low && a.close == b.close && a.volume == b.volume;
}

bool same_event(const market_event& a, const market_event& b) {
    return a.kind == b.kind && a.warmup == b.warmup && a.symbol == b.symbol && a.ts == b.ts &&
           a.bid == b.bid && a.ask == b.ask && same_candle(a.bar, b.bar);
}

double mid(const market_event& e) {
    return (e.bid + e.ask) / 2;
}

}  // namespace

TEST_CASE("sim_generator: the same seed gives the identical event sequence") {
    sim_generator a(feed_cfg(42, 20, 10), symbol_cfg("BTCUSDT"), 3);
    sim_generator b(feed_cfg(42, 20, 10), symbol_cfg("BTCUSDT"), 3);
    const auto ea = take(a, 10'000);
    const auto eb = take(b, 10'000);
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < ea.size(); ++i) {
        if (!same_event(ea[i], eb[i])) ++mismatches;
    }
    CHECK(mismatches == 0);
    CHECK(ea.front().symbol == 3);
}

TEST_CASE("sim_generator: a different seed or symbol index gives a different sequence") {
    sim_generator base(feed_cfg(42), symbol_cfg("BTCUSDT"), 0);
    sim_generator other_seed(feed_cfg(43), symbol_cfg("BTCUSDT"), 0);
    sim_generator other_index(feed_cfg(42), symbol_cfg("BTCUSDT"), 1);
    const auto e0 = take(base, 1000);
    const auto e1 = take(other_seed, 1000);
    const auto e2 = take(other_index, 1000);
    std::size_t diff_seed = 0, diff_index = 0;
    for (std::size_t i = 0; i < e0.size(); ++i) {
        if (e0[i].bid != e1[i].bid) ++diff_seed;
        if (e0[i].bid != e2[i].bid) ++diff_index;
    }
    CHECK(diff_seed > 900);
    CHECK(diff_index > 900);
}

TEST_CASE("sim_generator: warm-up candles come first, closed only and flagged") {
    const int warmup = 25;
    sim_generator g(feed_cfg(7, 5, warmup), symbol_cfg("ETHUSDT"), 0);
    const auto ev = take(g, 2000);
    for (int i = 0; i < warmup; ++i) {
        CHECK(ev[i].kind == event_kind::candle_closed);
        CHECK(ev[i].warmup);
        CHECK(ev[i].ts == ev[i].bar.close_time);
    }
    for (std::size_t i = warmup; i < ev.size(); ++i)
        CHECK_FALSE(ev[i].warmup);
    CHECK(ev[warmup].kind == event_kind::quote);
}

TEST_CASE("sim_generator: candles are valid and contiguous across warm-up and live") {
    const std::int64_t interval = 300'000;
    sim_generator g(feed_cfg(9, 12, 30), symbol_cfg("SOLUSDT", interval, 25, 2.0), 0);
    const auto ev = take(g, 20'000);
    std::vector<candle> closed;
    for (const auto& e : ev) {
        if (e.kind != event_kind::quote) CHECK(is_valid(e.bar));
        if (e.kind == event_kind::candle_closed) closed.push_back(e.bar);
    }
    REQUIRE(closed.size() > 500);
    CHECK(closed.front().open_time == 1'704'067'200'000);
    for (std::size_t i = 0; i < closed.size(); ++i) {
        CHECK(closed[i].close_time == closed[i].open_time + interval - 1);
        CHECK(closed[i].volume > 0);
        if (i > 0) CHECK(closed[i].open_time == closed[i - 1].open_time + interval);
    }
}

TEST_CASE("sim_generator: each live candle is ticks_per_candle quote/update pairs then a close") {
    const int ticks = 7;
    sim_generator g(feed_cfg(11, ticks, 0), symbol_cfg("BTCUSDT"), 0);
    const auto ev = take(g, (2 * ticks + 1) * 100);
    const std::size_t per_candle = 2 * ticks + 1;
    for (std::size_t c = 0; c < 100; ++c) {
        const std::size_t base = c * per_candle;
        double first_mid = 0, high = 0, low = 1e300, prev_volume = 0;
        for (int k = 0; k < ticks; ++k) {
            const auto& q = ev[base + 2 * k];
            const auto& u = ev[base + 2 * k + 1];
            REQUIRE(q.kind == event_kind::quote);
            REQUIRE(u.kind == event_kind::candle_update);
            if (k == 0) first_mid = mid(q);
            high = std::max(high, mid(q));
            low = std::min(low, mid(q));
            // The update describes the forming candle up to and including this tick.
            CHECK(u.ts == q.ts);
            CHECK(u.bar.open == doctest::Approx(first_mid));
            CHECK(u.bar.close == doctest::Approx(mid(q)));
            CHECK(u.bar.high == doctest::Approx(high));
            CHECK(u.bar.low == doctest::Approx(low));
            CHECK(u.bar.volume > prev_volume);
            prev_volume = u.bar.volume;
            CHECK(q.ts >= u.bar.open_time);
            CHECK(q.ts <= u.bar.close_time);
        }
        const auto& closed = ev[base + 2 * ticks];
        REQUIRE(closed.kind == event_kind::candle_closed);
        CHECK(closed.ts == closed.bar.close_time);
        CHECK(same_candle(closed.bar, ev[base + 2 * ticks - 1].bar));
    }
}

TEST_CASE("sim_generator: event times never go backwards and peek_time is exact") {
    sim_generator g(feed_cfg(5, 3, 4), symbol_cfg("BTCUSDT", 1000), 0);
    timestamp_ms prev = 0;
    for (int i = 0; i < 5000; ++i) {
        const timestamp_ms peeked = g.peek_time();
        const market_event e = g.next();
        CHECK(e.ts == peeked);
        CHECK(e.ts >= prev);
        prev = e.ts;
    }
}

TEST_CASE("sim_generator: bid and ask straddle the mid by the configured spread") {
    const double spread_bps = 8;
    sim_generator g(feed_cfg(3), symbol_cfg("BTCUSDT", 60'000, 40'000, 0.8, 0, spread_bps), 0);
    for (const auto& e : take(g, 5000)) {
        CHECK(e.bid > 0);
        CHECK(e.bid < e.ask);
        CHECK((e.ask - e.bid) / mid(e) == doctest::Approx(spread_bps / 1e4).epsilon(1e-9));
    }
}

TEST_CASE("sim_generator: zero drift and volatility keep the price constant") {
    sim_generator g(feed_cfg(1, 10, 3), symbol_cfg("BTCUSDT", 60'000, 123.5, 0, 0, 2), 0);
    for (const auto& e : take(g, 3000)) {
        CHECK(mid(e) == doctest::Approx(123.5).epsilon(1e-12));
        if (e.kind != event_kind::quote) {
            CHECK(e.bar.open == doctest::Approx(123.5).epsilon(1e-12));
            CHECK(e.bar.high == doctest::Approx(123.5).epsilon(1e-12));
            CHECK(e.bar.low == doctest::Approx(123.5).epsilon(1e-12));
        }
    }
}

TEST_CASE("sim_generator: log returns have the GBM volatility per step") {
    const double vol = 0.6;
    const int ticks = 20;
    const std::int64_t interval = 60'000;
    sim_generator g(feed_cfg(2024, ticks, 0), symbol_cfg("BTCUSDT", interval, 100, vol), 0);
    const double dt = static_cast<double>(interval) / ticks / (365.0 * 24 * 3600 * 1000);
    const double expected_sd = vol * std::sqrt(dt);

    std::vector<double> returns;
    returns.reserve(100'000);
    double prev = 100;
    while (returns.size() < 100'000) {
        const market_event e = g.next();
        if (e.kind != event_kind::quote) continue;
        returns.push_back(std::log(mid(e) / prev));
        prev = mid(e);
    }
    double mean = 0;
    for (double r : returns)
        mean += r;
    mean /= static_cast<double>(returns.size());
    double var = 0;
    for (double r : returns)
        var += (r - mean) * (r - mean);
    const double sd = std::sqrt(var / static_cast<double>(returns.size() - 1));
    CHECK(sd == doctest::Approx(expected_sd).epsilon(0.10));
    // Drift 0: the mean step is -vol^2/2 dt, far below the noise; 5 standard errors.
    CHECK(std::abs(mean) < 5 * expected_sd / std::sqrt(static_cast<double>(returns.size())));
}

TEST_CASE("sim_generator: drift moves the price in its direction") {
    // With no volatility the path is deterministic: one year of steps multiplies by e^drift.
    const int ticks = 10;
    const std::int64_t interval = 3'600'000;  // 1h: 8760 candles per year
    sim_generator g(feed_cfg(1, ticks, 0), symbol_cfg("BTCUSDT", interval, 100, 0, 0.2), 0);
    double last = 0;
    int closed = 0;
    while (closed < 8760) {
        const market_event e = g.next();
        if (e.kind == event_kind::candle_closed) {
            ++closed;
            last = e.bar.close;
        }
    }
    CHECK(last == doctest::Approx(100 * std::exp(0.2)).epsilon(1e-9));
}

TEST_CASE("sim_generator: unusable parameters are rejected at construction") {
    CHECK_THROWS_AS(sim_generator(feed_cfg(1, 0), symbol_cfg("X"), 0), std::invalid_argument);
    CHECK_THROWS_AS(sim_generator(feed_cfg(1, 20, -1), symbol_cfg("X"), 0), std::invalid_argument);
    CHECK_THROWS_AS(sim_generator(feed_cfg(1), symbol_cfg("X", 0), 0), std::invalid_argument);
    CHECK_THROWS_AS(sim_generator(feed_cfg(1), symbol_cfg("X", 60'000, 0), 0),
                    std::invalid_argument);
    CHECK_THROWS_AS(sim_generator(feed_cfg(1), symbol_cfg("X", 60'000, 100, -0.1), 0),
                    std::invalid_argument);
    CHECK_THROWS_AS(sim_generator(feed_cfg(1), symbol_cfg("X", 60'000, 100, 0.5, 0, -1), 0),
                    std::invalid_argument);
    CHECK_THROWS_AS(sim_generator(feed_cfg(1), symbol_cfg("X", 60'000, 100, 0.5, 0, 2e4), 0),
                    std::invalid_argument);
}
