// Monte Carlo over simulated-feed paths: percentiles, determinism per seed and thread count.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>

#include <tradingd/backtest/montecarlo.hpp>

using namespace tradingd;
using namespace tradingd::backtest;
namespace fs = std::filesystem;

namespace {

config::symbol_config sim_symbol() {
    config::symbol_config s;
    s.symbol = "SIMUSDT";
    s.strategy = "sma_cross";
    s.strategy_path = fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies" / "sma_cross.lua";
    s.interval = "1m";
    s.interval_ms = 60'000;
    s.quantity = 1;
    s.params = {{"fast", std::int64_t{5}}, {"slow", std::int64_t{15}}};
    s.sim.start_price = 100;
    s.sim.volatility = 0.8;
    return s;
}

config::sim_feed_config sim_feed() {
    config::sim_feed_config f;
    f.ticks_per_candle = 4;
    f.warmup_candles = 20;
    f.speed = 0;
    return f;
}

std::string json_of(std::uint64_t seed, unsigned threads, montecarlo_result* keep = nullptr) {
    montecarlo_options o;
    o.paths = 6;
    o.seed = seed;
    o.candles = 400;
    o.threads = threads;
    const auto r = montecarlo(sim_feed(), sim_symbol(), {}, {}, o);
    if (keep != nullptr) *keep = r;
    std::ostringstream out;
    write_montecarlo_json(out, r);
    return out.str();
}

}  // namespace

TEST_CASE("montecarlo: percentiles interpolate between closest ranks") {
    const std::vector<double> five{1, 2, 3, 4, 5};
    CHECK(percentile(five, 0) == 1);
    CHECK(percentile(five, 25) == 2);
    CHECK(percentile(five, 50) == 3);
    CHECK(percentile(five, 95) == doctest::Approx(4.8));
    CHECK(percentile(five, 100) == 5);
    CHECK(percentile({10, 20}, 50) == 15);
    CHECK(percentile({7}, 5) == 7);

    const auto d = describe({40, 10, 30, 20, 50, 60, 70, 80, 90, 100, 0});  // any order
    CHECK(d.count == 11);
    CHECK(d.min == 0);
    CHECK(d.max == 100);
    CHECK(d.mean == doctest::Approx(50));
    CHECK(d.p5 == doctest::Approx(5));
    CHECK(d.p25 == doctest::Approx(25));
    CHECK(d.p50 == doctest::Approx(50));
    CHECK(d.p75 == doctest::Approx(75));
    CHECK(d.p95 == doctest::Approx(95));
    CHECK(describe({}).count == 0);
}

TEST_CASE("montecarlo: path seeds differ across paths and seeds, and are stable") {
    CHECK(path_seed(1, 0) != path_seed(1, 1));
    CHECK(path_seed(1, 0) != path_seed(2, 0));
    CHECK(path_seed(1, 1) != path_seed(2, 0));
    CHECK(path_seed(42, 7) == path_seed(42, 7));
}

TEST_CASE("montecarlo: the same seed gives identical results on 1 and 2 threads") {
    montecarlo_result r;
    const std::string one = json_of(7, 1, &r);
    CHECK(one == json_of(7, 2));
    CHECK(one != json_of(8, 2));
    REQUIRE(r.paths.size() == 6);
    // The paths differ and the strategy traded on them: the comparison compares something.
    CHECK(r.paths[0].final_price != r.paths[1].final_price);
    CHECK(r.trades.max > 0);
    CHECK(r.net_pnl.count == 6);
    CHECK(r.net_pnl.min <= r.net_pnl.p50);
    CHECK(r.net_pnl.p50 <= r.net_pnl.max);
    for (const auto& p : r.paths) {
        CHECK(p.max_drawdown >= 0);
        CHECK(p.wins <= p.trades);
    }
    CHECK(one.find("\"p95\"") != std::string::npos);
    CHECK(one.find("\"path_outcomes\"") != std::string::npos);
}

TEST_CASE("montecarlo: a script that does not load and unusable inputs are errors") {
    auto bad = sim_symbol();
    bad.strategy_path = fs::path(TRADINGD_SOURCE_DIR) / "no-such-script.lua";
    montecarlo_options o;
    o.paths = 2;
    o.candles = 10;
    CHECK_THROWS_AS(montecarlo(sim_feed(), bad, {}, {}, o), std::runtime_error);
    auto flat = sim_symbol();
    flat.sim.start_price = -1;
    CHECK_THROWS_AS(montecarlo(sim_feed(), flat, {}, {}, o), std::invalid_argument);
    o.paths = 0;
    CHECK_THROWS_AS(montecarlo(sim_feed(), sim_symbol(), {}, {}, o), std::invalid_argument);
}
