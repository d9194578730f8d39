// Running sums must not drift: after millions of candles, sma / stddev / bollinger still agree
// with an exact computation over the last n closes.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <tradingd/indicators/indicator_set.hpp>
#include <tradingd/market/market_data_window.hpp>

namespace ti = tradingd::indicators;

namespace {

struct exact_stats {
    double mean;
    double stddev;
};

/// Two-pass mean and population stddev in long double over the last n closes.
exact_stats exact(const tradingd::market::market_data_window& w, std::size_t n) {
    long double sum = 0;
    w.for_each_oldest_first(n, [&](const tradingd::candle& c) { sum += c.close; });
    const long double mean = sum / static_cast<long double>(n);
    long double sq = 0;
    w.for_each_oldest_first(n, [&](const tradingd::candle& c) {
        const long double d = c.close - mean;
        sq += d * d;
    });
    return {static_cast<double>(mean),
            static_cast<double>(std::sqrt(sq / static_cast<long double>(n)))};
}

bool rel_close(double got, double want) {
    return std::fabs(got - want) <= 1e-9 * std::max(1.0, std::fabs(want));
}

}  // namespace

TEST_CASE("indicators: sma, stddev and bollinger do not drift over 3,000,000 candles") {
    constexpr std::size_t total = 3'000'000;
    constexpr std::size_t checkpoint_every = 100'000;
    tradingd::market::market_data_window window(1000);
    ti::indicator_set set(window);
    const auto specs = ti::parse_spec_list(
                           "sma(20),stddev(20),bollinger(20,2),sma(1000),stddev(1000),"
                           "highest(50),lowest(50)")
                           .value();
    std::vector<std::size_t> h;
    for (const auto& s : specs)
        h.push_back(set.get_or_create(s));

    std::mt19937_64 rng(20240601);
    std::normal_distribution<double> step(0.0, 30.0);
    std::uniform_real_distribution<double> wick(0.0, 20.0);
    double price = 30000;
    std::size_t checkpoints = 0;
    for (std::size_t i = 0; i < total; ++i) {
        // A random walk pulled back towards 30000 so prices stay positive and realistic.
        const double open = price;
        price = std::max(100.0, price + step(rng) + 0.001 * (30000 - price));
        const auto t = static_cast<std::int64_t>(i) * 60000;
        const tradingd::candle c{t,
                                 t + 59999,
                                 open,
                                 std::max(open, price) + wick(rng),
                                 std::min(open, price) - wick(rng),
                                 price,
                                 1.0};
        window.push_closed(c);
        set.on_closed(c);
        if ((i + 1) % checkpoint_every != 0) continue;
        ++checkpoints;
        const auto e20 = exact(window, 20);
        const auto e1000 = exact(window, 1000);
        CHECK(rel_close(set.value(h[0]).v[0], e20.mean));
        CHECK(rel_close(set.value(h[1]).v[0], e20.stddev));
        CHECK(rel_close(set.value(h[2]).v[0], e20.mean + 2 * e20.stddev));
        CHECK(rel_close(set.value(h[2]).v[1], e20.mean));
        CHECK(rel_close(set.value(h[2]).v[2], e20.mean - 2 * e20.stddev));
        CHECK(rel_close(set.value(h[3]).v[0], e1000.mean));
        CHECK(rel_close(set.value(h[4]).v[0], e1000.stddev));
        CHECK(set.value(h[5]).v[0] == *window.highest(50));
        CHECK(set.value(h[6]).v[0] == *window.lowest(50));
    }
    CHECK(checkpoints == total / checkpoint_every);
}
