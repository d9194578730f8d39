// indicator_set behaviour: specs, handles, seeding from the window, small periods.

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <tradingd/indicators/indicator_set.hpp>
#include <tradingd/market/market_data_window.hpp>

namespace ti = tradingd::indicators;
using tradingd::candle;

namespace {

candle bar(std::int64_t i, double open, double high, double low, double close) {
    return candle{i * 60000, i * 60000 + 59999, open, high, low, close, 1.0};
}

candle flat(std::int64_t i, double price) {
    return bar(i, price, price, price, price);
}

ti::indicator_spec spec(const char* text) {
    auto s = ti::parse_spec(text);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    return s.value();
}

std::string make_error(ti::indicator_kind k, int n1, int n2 = 0, int n3 = 0, double kk = 0) {
    auto s = ti::make_spec(k, n1, n2, n3, kk);
    REQUIRE_FALSE(s.ok());
    return s.error_message();
}

std::string parse_error(const char* text) {
    auto s = ti::parse_spec(text);
    REQUIRE_FALSE(s.ok());
    return s.error_message();
}

/// Window + set fed together, as a runner does.
struct feed {
    explicit feed(std::size_t capacity) : window(capacity), set(window) {}
    void push(const candle& c) {
        window.push_closed(c);
        set.on_closed(c);
    }
    tradingd::market::market_data_window window;
    ti::indicator_set set;
};

}  // namespace

TEST_CASE("indicators: make_spec rejects bad parameters naming indicator and parameter") {
    using k = ti::indicator_kind;
    CHECK(make_error(k::macd, 26, 12, 9) == "macd(26,12,9): fast period must be < slow period");
    CHECK(make_error(k::macd, 12, 12, 9) == "macd(12,12,9): fast period must be < slow period");
    CHECK(make_error(k::macd, 12, 26, 0) == "macd(12,26,0): signal period must be in [1, 100000]");
    CHECK(make_error(k::macd, 0, 26, 9) == "macd(0,26,9): fast period must be in [1, 100000]");
    CHECK(make_error(k::sma, 0) == "sma(0): period must be in [1, 100000]");
    CHECK(make_error(k::rsi, -3) == "rsi(-3): period must be in [1, 100000]");
    CHECK(make_error(k::highest, 100001) == "highest(100001): period must be in [1, 100000]");
    CHECK(make_error(k::bollinger, 20, 0, 0, 0) == "bollinger(20,0): k must be finite and > 0");
    CHECK(make_error(k::bollinger, 20, 0, 0, std::numeric_limits<double>::quiet_NaN()) ==
          "bollinger(20,nan): k must be finite and > 0");
    CHECK(make_error(k::bollinger, 20, 0, 0, std::numeric_limits<double>::infinity()) ==
          "bollinger(20,inf): k must be finite and > 0");
    CHECK(ti::make_spec(k::sma, 100000).ok());
    CHECK(ti::make_spec(k::sma, 1).ok());
}

TEST_CASE("indicators: make_spec zeroes unused parameters so equal indicators compare equal") {
    auto a = ti::make_spec(ti::indicator_kind::ema, 20, 5, 7, 2.0);
    REQUIRE(a.ok());
    CHECK(a.value() == ti::indicator_spec{ti::indicator_kind::ema, 20, 0, 0, 0});
}

TEST_CASE("indicators: parse_spec accepts the documented forms") {
    CHECK(spec("sma(20)") == ti::indicator_spec{ti::indicator_kind::sma, 20, 0, 0, 0});
    CHECK(spec("  sma ( 20 )  ") == spec("sma(20)"));
    CHECK(spec("macd(12, 26, 9)") == ti::indicator_spec{ti::indicator_kind::macd, 12, 26, 9, 0});
    CHECK(spec("bollinger(20,2)") ==
          ti::indicator_spec{ti::indicator_kind::bollinger, 20, 0, 0, 2.0});
    CHECK(spec("bollinger( 20 , 2.5 )").k == 2.5);
    CHECK(spec("stddev(7)").kind == ti::indicator_kind::stddev);
    CHECK(spec("lowest(3)").kind == ti::indicator_kind::lowest);
}

TEST_CASE("indicators: parse_spec rejects malformed text with a useful message") {
    CHECK(parse_error("foo(3)").find("unknown indicator 'foo'") != std::string::npos);
    CHECK(parse_error("sma20").find("expected name(parameters)") != std::string::npos);
    CHECK(parse_error("").find("expected name(parameters)") != std::string::npos);
    CHECK(parse_error("sma(20,3)") == "'sma(20,3)': sma expects 1 parameter (period)");
    CHECK(parse_error("macd(12,26)") ==
          "'macd(12,26)': macd expects 3 parameters (fast, slow, signal)");
    CHECK(parse_error("sma(x)") == "'sma(x)': period must be an integer, got 'x'");
    CHECK(parse_error("sma(2.5)") == "'sma(2.5)': period must be an integer, got '2.5'");
    CHECK(parse_error("bollinger(20,two)") == "'bollinger(20,two)': k must be a number, got 'two'");
    CHECK(parse_error("macd(26,12,9)") == "macd(26,12,9): fast period must be < slow period");
    CHECK(parse_error("SMA(20)").find("unknown indicator") != std::string::npos);
}

TEST_CASE("indicators: parse_spec_list splits on top-level commas") {
    auto list = ti::parse_spec_list("sma(20), rsi(14),macd(12,26,9),bollinger(20,2)");
    REQUIRE(list.ok());
    REQUIRE(list.value().size() == 4);
    CHECK(list.value()[2] == spec("macd(12,26,9)"));
    CHECK(list.value()[3] == spec("bollinger(20,2)"));
    CHECK_FALSE(ti::parse_spec_list("sma(20),,rsi(14)").ok());
    CHECK_FALSE(ti::parse_spec_list("sma(20),").ok());
    CHECK_FALSE(ti::parse_spec_list("").ok());
    CHECK_FALSE(ti::parse_spec_list("sma(20").ok());
    CHECK_FALSE(ti::parse_spec_list("sma(20)),rsi(3)").ok());
    auto bad = ti::parse_spec_list("sma(20),rsi(0)");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error_message() == "rsi(0): period must be in [1, 100000]");
}

TEST_CASE("indicators: names and output counts") {
    CHECK(ti::column_names(spec("sma(20)")) == std::vector<std::string>{"sma_20"});
    CHECK(ti::column_names(spec("macd(12,26,9)")) ==
          std::vector<std::string>{"macd_12_26_9", "macd_signal_12_26_9", "macd_hist_12_26_9"});
    CHECK(ti::column_names(spec("bollinger(20,2)")) ==
          std::vector<std::string>{"bb_upper_20_2", "bb_middle_20_2", "bb_lower_20_2"});
    CHECK(ti::column_names(spec("bollinger(20,2.5)"))[0] == "bb_upper_20_2.5");
    CHECK(ti::column_names(spec("highest(20)")) == std::vector<std::string>{"highest_20"});
    CHECK(ti::output_count(ti::indicator_kind::macd) == 3);
    CHECK(ti::output_count(ti::indicator_kind::bollinger) == 3);
    CHECK(ti::output_count(ti::indicator_kind::atr) == 1);
    CHECK(std::string(ti::kind_name(ti::indicator_kind::stddev)) == "stddev");
    CHECK(std::string(ti::kind_name(ti::indicator_kind::bollinger)) == "bollinger");
}

TEST_CASE("indicators: equal specs share one handle, different specs do not") {
    feed f(10);
    CHECK_FALSE(f.set.find(spec("sma(3)")).has_value());
    const auto a = f.set.get_or_create(spec("sma(3)"));
    const auto b = f.set.get_or_create(spec(" sma( 3 ) "));
    const auto c = f.set.get_or_create(spec("ema(3)"));
    CHECK(a == b);
    CHECK(a != c);
    CHECK(f.set.size() == 2);
    CHECK(f.set.find(spec("ema(3)")) == c);
}

TEST_CASE("indicators: get_or_create rejects a hand-built invalid spec") {
    feed f(10);
    CHECK_THROWS_AS(f.set.get_or_create(ti::indicator_spec{ti::indicator_kind::sma, 0, 0, 0, 0}),
                    std::invalid_argument);
    CHECK_THROWS_AS(f.set.get_or_create(ti::indicator_spec{ti::indicator_kind::sma, 5, 3, 0, 0}),
                    std::invalid_argument);
    CHECK(f.set.size() == 0);
}

TEST_CASE("indicators: period 1 tracks the latest candle") {
    feed f(10);
    const auto sma = f.set.get_or_create(spec("sma(1)"));
    const auto ema = f.set.get_or_create(spec("ema(1)"));
    const auto sd = f.set.get_or_create(spec("stddev(1)"));
    const auto hi = f.set.get_or_create(spec("highest(1)"));
    const auto lo = f.set.get_or_create(spec("lowest(1)"));
    const auto rsi = f.set.get_or_create(spec("rsi(1)"));
    const auto atr = f.set.get_or_create(spec("atr(1)"));
    const auto bb = f.set.get_or_create(spec("bollinger(1,2)"));
    f.push(bar(0, 100, 110, 90, 105));
    CHECK(f.set.value(sma).ready);
    CHECK(f.set.value(sma).v[0] == 105);
    CHECK(f.set.value(ema).v[0] == 105);
    CHECK(f.set.value(sd).v[0] == 0);
    CHECK(f.set.value(hi).v[0] == 110);
    CHECK(f.set.value(lo).v[0] == 90);
    CHECK(f.set.value(bb).v == std::array<double, 3>{105, 105, 105});
    CHECK_FALSE(f.set.value(rsi).ready);  // needs one change
    CHECK_FALSE(f.set.value(atr).ready);  // needs a previous close
    f.push(bar(1, 105, 106, 95, 96));
    CHECK(f.set.value(rsi).v[0] == 0);   // a fall
    CHECK(f.set.value(atr).v[0] == 11);  // high - low
    CHECK(f.set.value(hi).v[0] == 106);
    f.push(bar(2, 110, 120, 100, 118));
    CHECK(f.set.value(rsi).v[0] == 100);                  // a rise
    CHECK(f.set.value(atr).v[0] == doctest::Approx(24));  // high - previous close
}

TEST_CASE("indicators: readiness follows each indicator's warm-up length") {
    feed f(100);
    const auto sma = f.set.get_or_create(spec("sma(5)"));
    const auto rsi = f.set.get_or_create(spec("rsi(5)"));
    const auto atr = f.set.get_or_create(spec("atr(5)"));
    const auto macd = f.set.get_or_create(spec("macd(3,5,4)"));
    for (int i = 0; i < 20; ++i) {
        f.push(flat(i, 100 + (i % 3)));
        CHECK(f.set.value(sma).ready == (i >= 4));
        CHECK(f.set.value(rsi).ready == (i >= 5));
        CHECK(f.set.value(atr).ready == (i >= 5));
        CHECK(f.set.value(macd).ready == (i >= 5 + 4 - 2));
    }
}

TEST_CASE("indicators: a flat market gives rsi 0, stddev 0 and bands on the price") {
    feed f(50);
    const auto rsi = f.set.get_or_create(spec("rsi(14)"));
    const auto sd = f.set.get_or_create(spec("stddev(20)"));
    const auto bb = f.set.get_or_create(spec("bollinger(20,2)"));
    for (int i = 0; i < 40; ++i)
        f.push(flat(i, 0.1));
    CHECK(f.set.value(rsi).v[0] == 0);
    CHECK(f.set.value(sd).v[0] == 0);
    CHECK(f.set.value(bb).v[0] == doctest::Approx(0.1).epsilon(1e-15));
    CHECK(f.set.value(bb).v[2] == doctest::Approx(0.1).epsilon(1e-15));
    CHECK_FALSE(std::isnan(f.set.value(sd).v[0]));
}

TEST_CASE("indicators: highest/lowest follow the window through rises, falls and expiry") {
    feed f(64);
    const auto hi = f.set.get_or_create(spec("highest(4)"));
    const auto lo = f.set.get_or_create(spec("lowest(4)"));
    const double prices[] = {5, 9, 1, 7, 3, 3, 2, 8, 8, 6, 4, 2, 1, 0.5, 10, 9, 8, 7, 6, 5};
    for (std::size_t i = 0; i < std::size(prices); ++i) {
        f.push(
            bar(static_cast<std::int64_t>(i), prices[i], prices[i] + 1, prices[i] / 2, prices[i]));
        CHECK(f.set.value(hi).ready == (i >= 3));
        if (i < 3) continue;
        CHECK(f.set.value(hi).v[0] == *f.window.highest(4));
        CHECK(f.set.value(lo).v[0] == *f.window.lowest(4));
    }
}

TEST_CASE("indicators: a late indicator seeds from the window only") {
    // The window keeps 30 candles of 100: a late sma(20) is ready at once, a late ema(50) needs
    // 20 more candles, and both equal indicators fed from the window's oldest candle on.
    feed f(30);
    for (int i = 0; i < 100; ++i)
        f.push(flat(i, 100 + i));
    const auto sma = f.set.get_or_create(spec("sma(20)"));
    REQUIRE(f.set.value(sma).ready);
    CHECK(f.set.value(sma).v[0] == doctest::Approx(189.5).epsilon(1e-15));  // mean of 180..199
    const auto ema = f.set.get_or_create(spec("ema(50)"));
    for (int i = 100; i < 119; ++i) {
        f.push(flat(i, 100 + i));
        CHECK_FALSE(f.set.value(ema).ready);
    }
    f.push(flat(119, 219));
    REQUIRE(f.set.value(ema).ready);
    CHECK(f.set.value(ema).v[0] == doctest::Approx(194.5).epsilon(1e-15));  // mean of 170..219
}
