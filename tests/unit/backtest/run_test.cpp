#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>

#include <tradingd/backtest/backtest.hpp>

#include "test_support.hpp"

using namespace tradingd;
using tradingd::testing::make_candle;

namespace {

// Opportunity on every Idle candle, entry on the next, exit on the one after: a trade every
// three candles, without stop or target (so only the strategy exits).
constexpr const char* cycle_script = R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
function filter_commitment(m, ctx, ind) return { action = "enter_long", reason = "in" } end
function manage_position(m, ctx, ind, p) return { action = "exit", reason = "out" } end
)";

// Enters long with a stop 2 % under and a target 2 % over the ask; never exits by itself.
constexpr const char* bracket_script = R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
function filter_commitment(m, ctx, ind)
  return { action = "enter_long", stop_loss = m.ask * 0.98, take_profit = m.ask * 1.02 }
end
function manage_position(m, ctx, ind, p) return nil end
)";

struct fixture {
    testing::temp_dir dir;
    config::sandbox_config sandbox;
    config::paper_config paper;
    backtest::run_options options;

    fixture() {
        paper.fee_bps = 10;
        paper.slippage_bps = 0;
        paper.starting_cash = 10'000;
        options.intrabar.spread_bps = 20;  // bid = 0.999 x, ask = 1.001 x
    }
    config::symbol_config symbol(const std::string& script) {
        config::symbol_config s;
        s.symbol = "TESTUSDT";
        s.strategy = "test";
        s.strategy_path = dir.write("test.lua", script);
        s.interval = "1m";
        s.interval_ms = 60'000;
        s.window = 100;
        s.quantity = 1;
        return s;
    }
};

}  // namespace

TEST_CASE("backtest: run() of an enter/exit cycle gives the hand-computed trades and equity") {
    fixture f;
    std::vector<candle> cs;
    const double closes[] = {100, 100, 110, 110, 120, 100};
    for (int i = 0; i < 6; ++i)
        cs.push_back(make_candle(i, closes[i]));
    const auto r = backtest::run(f.symbol(cycle_script), f.sandbox, f.paper, cs, f.options);

    REQUIRE(r.trades.size() == 2);
    const auto& t1 = r.trades[0];
    CHECK(t1.side == "long");
    CHECK(t1.quantity == 1);
    CHECK(t1.entry_price == doctest::Approx(100.1));  // ask at candle 1's close
    CHECK(t1.exit_price == doctest::Approx(109.89));  // bid at candle 2's close
    CHECK(t1.opened_at == cs[1].close_time);
    CHECK(t1.closed_at == cs[2].close_time);
    CHECK(t1.fees == doctest::Approx(0.1001 + 0.10989));
    CHECK(t1.net_pnl == doctest::Approx(9.79 - 0.20999));
    CHECK(t1.exit_reason == "out");
    const auto& t2 = r.trades[1];
    CHECK(t2.entry_price == doctest::Approx(120.12));
    CHECK(t2.exit_price == doctest::Approx(99.9));
    CHECK(t2.net_pnl == doctest::Approx(-20.22 - 0.22002));

    const double expected[] = {10'000,       9'999.7999,   10'009.58001,
                               10'009.58001, 10'009.33989, 9'989.13999};
    REQUIRE(r.equity.size() == 6);
    for (int i = 0; i < 6; ++i) {
        CHECK(r.equity[i].ts == cs[i].close_time);
        CHECK(r.equity[i].equity == doctest::Approx(expected[i]).epsilon(1e-12));
    }
    CHECK(r.equity[1].drawdown == doctest::Approx(-0.2001));
    CHECK(r.equity[5].drawdown == doctest::Approx(-20.44002));

    const auto& s = r.stats;
    CHECK(s.symbol == "TESTUSDT");
    CHECK(s.script_hash.size() > 0);
    CHECK(s.candles == 6);
    CHECK(s.trades == 2);
    CHECK(s.wins == 1);
    CHECK(s.losses == 1);
    CHECK(s.win_rate == doctest::Approx(0.5));
    CHECK(s.net_pnl == doctest::Approx(9.58001 - 20.44002));
    CHECK(s.fees == doctest::Approx(0.43001));
    CHECK(s.gross_pnl == doctest::Approx(-10.43));
    CHECK(s.final_equity == doctest::Approx(9'989.13999));
    CHECK(s.max_drawdown == doctest::Approx(20.44002));
    CHECK(s.max_drawdown_pct == doctest::Approx(20.44002 / 10'009.58001 * 100));
    CHECK(s.exposure == doctest::Approx(2.0 / 6));
    CHECK(s.profit_factor == doctest::Approx(9.58001 / 20.44002));
    CHECK_FALSE(s.open_at_end);
    CHECK(s.strategy_errors == 0);
    // Entries and exits are in the decision log as fills; exits carry the pnl.
    std::size_t fills = 0;
    for (const auto& line : r.decisions)
        fills += line.find("\"event\":\"fill\"") != std::string::npos;
    CHECK(fills == 4);
}

TEST_CASE("backtest: the intrabar order decides whether the stop or the target is hit first") {
    // Entry at candle 1's close (100, no spread): stop 98, target 102. Candle 2 touches both.
    for (const bool high_first : {true, false}) {
        fixture f;
        f.options.intrabar.spread_bps = 0;
        std::vector<candle> cs{make_candle(0, 100), make_candle(1, 100)};
        // open 101: the high (103) is nearer than the low (97) ... or the other way round.
        cs.push_back(high_first ? make_candle(2, 100, 101, 103, 97)
                                : make_candle(2, 100, 99, 103, 97));
        const auto r = backtest::run(f.symbol(bracket_script), f.sandbox, f.paper, cs, f.options);
        REQUIRE(r.trades.size() == 1);
        CHECK(r.trades[0].exit_reason == (high_first ? "take_profit" : "stop_loss"));
        CHECK(r.trades[0].exit_price == doctest::Approx(high_first ? 103 : 97));
    }
}

TEST_CASE("backtest: run() twice gives identical decisions, trades and equity") {
    fixture f;
    std::vector<candle> cs;
    double p = 100;
    for (int i = 0; i < 300; ++i) {  // a 5 % swing every 40 candles: stops and targets hit
        const double next = 100 * (1 + 0.05 * std::sin(i * 6.283185307179586 / 40));
        cs.push_back(make_candle(i, next, p));
        p = next;
    }
    const auto sym = f.symbol(bracket_script);
    const auto a = backtest::run(sym, f.sandbox, f.paper, cs, f.options);
    const auto b = backtest::run(sym, f.sandbox, f.paper, cs, f.options);
    CHECK(a.trades.size() > 3);
    CHECK(a.decisions == b.decisions);
    REQUIRE(a.equity.size() == b.equity.size());
    for (std::size_t i = 0; i < a.equity.size(); ++i)
        CHECK(a.equity[i].equity == b.equity[i].equity);
    CHECK(a.stats.net_pnl == b.stats.net_pnl);
}

TEST_CASE("backtest: without kept decisions or equity the metrics are the same") {
    fixture f;
    std::vector<candle> cs;
    const double closes[] = {100, 100, 110, 110, 120, 100};
    for (int i = 0; i < 6; ++i)
        cs.push_back(make_candle(i, closes[i]));
    const auto sym = f.symbol(cycle_script);
    const auto full = backtest::run(sym, f.sandbox, f.paper, cs, f.options);
    f.options.keep_decisions = false;
    f.options.keep_equity = false;
    const auto lean = backtest::run(sym, f.sandbox, f.paper, cs, f.options);
    CHECK(lean.decisions.empty());
    CHECK(lean.equity.empty());
    CHECK(lean.trades.size() == full.trades.size());
    CHECK(lean.stats.max_drawdown == full.stats.max_drawdown);
    CHECK(lean.stats.sharpe == full.stats.sharpe);
}

TEST_CASE("backtest: a script that does not load is an error naming it") {
    fixture f;
    std::vector<candle> cs{make_candle(0, 100)};
    CHECK_THROWS_WITH_AS(backtest::run(f.symbol("function ("), f.sandbox, f.paper, cs, f.options),
                         doctest::Contains("test.lua"), std::runtime_error);
}
