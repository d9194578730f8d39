#include <doctest/doctest.h>

#include <cmath>

#include <tradingd/backtest/backtest.hpp>

using namespace tradingd;

TEST_CASE("backtest: summary metrics of a hand-made equity series") {
    // 1000 -> 1100 (+10 %) -> 990 (-10 %) -> 1039.5 (+5 %) -> 1039.5 (0 %)
    backtest::equity_stats st(1000);
    CHECK(st.add(1100, true) == 0);
    CHECK(st.add(990, true) == doctest::Approx(-110));
    CHECK(st.add(1039.5, false) == doctest::Approx(-60.5));
    CHECK(st.add(1039.5, false) == doctest::Approx(-60.5));
    backtest::summary s;
    st.fill(s, 3'600'000);  // hourly: 8760 candles a year
    CHECK(s.candles == 4);
    CHECK(s.starting_cash == 1000);
    CHECK(s.final_equity == doctest::Approx(1039.5));
    CHECK(s.return_pct == doctest::Approx(3.95));
    CHECK(s.max_drawdown == doctest::Approx(110));
    CHECK(s.max_drawdown_pct == doctest::Approx(10));
    CHECK(s.exposure == doctest::Approx(0.5));
    // returns 0.1, -0.1, 0.05, 0: mean 0.0125, sample sd sqrt(0.016875 / 3) = 0.075
    const double mean = 0.0125;
    const double sd =
        std::sqrt((0.0875 * 0.0875 + 0.1125 * 0.1125 + 0.0375 * 0.0375 + 0.0125 * 0.0125) / 3);
    CHECK(s.sharpe == doctest::Approx(mean / sd * std::sqrt(8760.0)));
    // downside deviation: sqrt((0.1^2) / 4) = 0.05
    CHECK(s.sortino == doctest::Approx(mean / 0.05 * std::sqrt(8760.0)));
}

TEST_CASE("backtest: a flat equity series has zero Sharpe, Sortino and drawdown") {
    backtest::equity_stats st(500);
    for (int i = 0; i < 10; ++i)
        st.add(500, false);
    backtest::summary s;
    st.fill(s, 60'000);
    CHECK(s.sharpe == 0);
    CHECK(s.sortino == 0);
    CHECK(s.max_drawdown == 0);
    CHECK(s.exposure == 0);
    CHECK(s.return_pct == 0);
}

TEST_CASE("backtest: trade statistics and profit factor") {
    std::vector<backtest::trade> ts(3);
    ts[0].net_pnl = 30;
    ts[0].fees = 1;
    ts[1].net_pnl = -10;
    ts[1].fees = 2;
    ts[2].net_pnl = 5;
    ts[2].fees = 0.5;
    backtest::summary s;
    backtest::fill_trade_stats(s, ts);
    CHECK(s.trades == 3);
    CHECK(s.wins == 2);
    CHECK(s.losses == 1);
    CHECK(s.win_rate == doctest::Approx(2.0 / 3));
    CHECK(s.net_pnl == doctest::Approx(25));
    CHECK(s.fees == doctest::Approx(3.5));
    CHECK(s.gross_pnl == doctest::Approx(28.5));
    CHECK(s.profit_factor == doctest::Approx(3.5));

    ts.erase(ts.begin() + 1);  // no losing trade: undefined, reported as 0 (null in JSON)
    backtest::fill_trade_stats(s, ts);
    CHECK(s.losses == 0);
    CHECK(s.profit_factor == 0);
}
