// Every indicator against TA-Lib's output on real data (../shared/reference), candle by candle.

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <tradingd/feed/kline_file.hpp>
#include <tradingd/indicators/indicator_set.hpp>
#include <tradingd/indicators/indicator_table.hpp>
#include <tradingd/market/market_data_window.hpp>

#include "reference_csv.hpp"

namespace ti = tradingd::indicators;

namespace {

const char* const reference_specs =
    "sma(5),sma(20),ema(20),ema(50),rsi(14),macd(12,26,9),bollinger(20,2),atr(14),highest(20),"
    "lowest(20),stddev(20)";

const std::vector<tradingd::candle>& btc_1h() {
    static const auto candles =
        tradingd::feed::read_kline_file(TRADINGD_SHARED_DIR "/binance-data/BTCUSDT-1h-2021-Q1.csv");
    return candles;
}

const ti::test::csv_table& reference() {
    static const auto table = [] {
        std::ifstream in(TRADINGD_SHARED_DIR "/reference/BTCUSDT-1h-2021-Q1.talib.csv");
        REQUIRE(in.good());
        return ti::test::parse_csv_table(in);
    }();
    return table;
}

std::vector<ti::indicator_spec> specs() {
    auto parsed = ti::parse_spec_list(reference_specs);
    REQUIRE(parsed.ok());
    return parsed.value();
}

/// Compares one row of indicator values with the reference; appends a description of each
/// difference to `errors`.
void compare_row(const ti::indicator_set& set, const std::vector<std::size_t>& handles,
                 const std::vector<ti::indicator_spec>& ss, std::size_t row,
                 std::vector<std::string>& errors) {
    const auto& ref = reference();
    std::size_t col = 0;
    for (std::size_t i = 0; i < ss.size(); ++i) {
        const auto& v = set.value(handles[i]);
        for (std::size_t j = 0; j < ti::output_count(ss[i].kind); ++j, ++col) {
            const auto& want = ref.cells[row][col];
            const bool ok = want ? (v.ready && ti::test::close_enough(v.v[j], *want)) : !v.ready;
            if (ok) continue;
            std::ostringstream msg;
            msg.precision(17);
            msg << "row " << row << " " << ref.header[col + 1] << ": got ";
            if (v.ready) {
                msg << v.v[j];
            } else {
                msg << "not ready";
            }
            msg << ", TA-Lib ";
            if (want) {
                msg << *want;
            } else {
                msg << "empty";
            }
            errors.push_back(msg.str());
        }
    }
}

/// Feeds candles [0, n) into window + set the way a runner does; creates the indicators after
/// `create_after` candles (seeded from the window) and checks every row from then on.
std::vector<std::string> run_against_reference(std::size_t create_after) {
    const auto& candles = btc_1h();
    const auto ss = specs();
    tradingd::market::market_data_window window(candles.size());
    ti::indicator_set set(window);
    std::vector<std::size_t> handles;
    std::vector<std::string> errors;
    for (std::size_t i = 0; i < candles.size(); ++i) {
        if (i == create_after) {
            for (const auto& s : ss)
                handles.push_back(set.get_or_create(s));
            if (i > 0) compare_row(set, handles, ss, i - 1, errors);
        }
        window.push_closed(candles[i]);
        set.on_closed(candles[i]);
        if (i >= create_after) compare_row(set, handles, ss, i, errors);
    }
    return errors;
}

}  // namespace

TEST_CASE("indicators: reference data lines up with the candle file") {
    const auto& ref = reference();
    REQUIRE(ref.open_time.size() == btc_1h().size());
    for (std::size_t i = 0; i < ref.open_time.size(); ++i) {
        REQUIRE(ref.open_time[i] == btc_1h()[i].open_time);
    }
    std::vector<std::string> names{"open_time"};
    for (const auto& s : specs()) {
        for (const auto& n : ti::column_names(s))
            names.push_back(n);
    }
    CHECK(names == ref.header);
}

TEST_CASE("indicators: match TA-Lib on every row when created before the first candle") {
    const auto errors = run_against_reference(0);
    for (std::size_t i = 0; i < errors.size() && i < 10; ++i)
        MESSAGE(errors[i]);
    CHECK(errors.empty());
}

TEST_CASE("indicators: match TA-Lib when created late and seeded from the window") {
    const auto errors = run_against_reference(300);
    for (std::size_t i = 0; i < errors.size() && i < 10; ++i)
        MESSAGE(errors[i]);
    CHECK(errors.empty());
}

TEST_CASE("indicators: write_indicator_csv reproduces the TA-Lib reference table") {
    std::stringstream out;
    ti::write_indicator_csv(btc_1h(), specs(), out);
    const auto table = ti::test::parse_csv_table(out);
    const auto& ref = reference();
    CHECK(table.header == ref.header);
    REQUIRE(table.cells.size() == btc_1h().size());
    std::size_t mismatches = 0;
    for (std::size_t r = 0; r < ref.cells.size(); ++r) {
        CHECK(table.open_time[r] == ref.open_time[r]);
        for (std::size_t c = 0; c < ref.cells[r].size(); ++c) {
            const auto& got = table.cells[r][c];
            const auto& want = ref.cells[r][c];
            const bool ok = want ? (got && ti::test::close_enough(*got, *want)) : !got;
            if (!ok) ++mismatches;
        }
    }
    CHECK(mismatches == 0);
}

TEST_CASE("indicators: write_indicator_csv prints 17 significant digits and empty cells") {
    std::vector<tradingd::candle> candles;
    for (int i = 0; i < 2; ++i) {
        const double p = 0.1 * (i + 1);
        candles.push_back({i * 60000, i * 60000 + 59999, p, p, p, p, 1});
    }
    std::stringstream out;
    ti::write_indicator_csv(candles, ti::parse_spec_list("sma(1),bollinger(3,2)").value(), out);
    CHECK(out.str() ==
          "open_time,sma_1,bb_upper_3_2,bb_middle_3_2,bb_lower_3_2\n"
          "0,0.10000000000000001,,,\n"
          "60000,0.20000000000000001,,,\n");
}
