// Parameter sweeps: grid parsing, valid(params) pruning, ranking, determinism across threads.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <tradingd/backtest/sweep.hpp>
#include <tradingd/feed/kline_file.hpp>

using namespace tradingd;
using namespace tradingd::backtest;
namespace fs = std::filesystem;

namespace {

const std::vector<candle>& btc_candles() {
    static const std::vector<candle> all =
        feed::read_kline_file(fs::path(TRADINGD_SHARED_DIR) / "binance-data" / "BTC_USDT-5m.json");
    static const std::vector<candle> head(all.begin(),
                                          all.begin() + std::min<std::ptrdiff_t>(4000, all.size()));
    return head;
}

fs::path sma_cross_path() {
    return fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies" / "sma_cross.lua";
}

/// A temp directory for this test process's scripts, removed at exit.
const fs::path& scratch_dir() {
    struct dir {
        fs::path path =
            fs::temp_directory_path() / ("tradingd-sweep-test-" + std::to_string(::getpid()));
        dir() { fs::create_directories(path); }
        ~dir() {
            std::error_code ec;
            fs::remove_all(path, ec);
        }
    };
    static const dir d;
    return d.path;
}

/// sma_cross.lua with `prefix` before it and `extra` after it, in a fresh temp file.
fs::path variant_script(const std::string& prefix, const std::string& extra) {
    static int n = 0;
    const fs::path p = scratch_dir() / ("variant" + std::to_string(++n) + ".lua");
    std::ifstream in(sma_cross_path());
    std::stringstream src;
    src << in.rdbuf();
    std::ofstream(p) << prefix << '\n' << src.str() << '\n' << extra << '\n';
    return p;
}

config::symbol_config symbol(fs::path script = sma_cross_path()) {
    config::symbol_config s;
    s.symbol = "BTCUSDT";
    s.strategy = "sma_cross";
    s.strategy_path = std::move(script);
    s.interval = "5m";
    s.interval_ms = 300'000;
    s.quantity = 0.01;
    s.params = {{"fast", std::int64_t{10}}, {"slow", std::int64_t{30}}};
    return s;
}

std::string csv_of(const sweep_result& r) {
    std::ostringstream out;
    write_sweep_csv(out, r);
    return out.str();
}

std::string error_of(std::string_view grid) {
    try {
        parse_grid(grid);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("sweep: integer ranges include stop and stay integers") {
    const auto axes = parse_grid("fast=5:30:5, slow=20:100:40");
    REQUIRE(axes.size() == 2);
    CHECK(axes[0].name == "fast");
    CHECK(axes[0].values == std::vector<scalar>{std::int64_t{5}, std::int64_t{10}, std::int64_t{15},
                                                std::int64_t{20}, std::int64_t{25},
                                                std::int64_t{30}});
    CHECK(axes[1].values ==
          std::vector<scalar>{std::int64_t{20}, std::int64_t{60}, std::int64_t{100}});
    // A stop that is not a whole number of steps away is not passed.
    CHECK(parse_grid("n=1:10:4")[0].values ==
          std::vector<scalar>{std::int64_t{1}, std::int64_t{5}, std::int64_t{9}});
}

TEST_CASE("sweep: float ranges and lists") {
    const auto f = parse_grid("rr=1:2:0.5");
    REQUIRE(f[0].values.size() == 3);
    CHECK(std::get<double>(f[0].values[0]) == 1.0);
    CHECK(std::get<double>(f[0].values[1]) == 1.5);
    CHECK(std::get<double>(f[0].values[2]) == 2.0);
    // 0.1 steps accumulate rounding error; the count still includes stop.
    CHECK(parse_grid("x=0:1:0.1")[0].values.size() == 11);

    const auto l = parse_grid("mode=fast|3|0.25|true");
    REQUIRE(l[0].values.size() == 4);
    CHECK(std::get<std::string>(l[0].values[0]) == "fast");
    CHECK(std::get<std::int64_t>(l[0].values[1]) == 3);
    CHECK(std::get<double>(l[0].values[2]) == 0.25);
    CHECK(std::get<bool>(l[0].values[3]));
    CHECK(parse_grid("k=7")[0].values == std::vector<scalar>{std::int64_t{7}});
}

TEST_CASE("sweep: bad grid syntax is an error naming the part") {
    CHECK(error_of("fast=5:30:5,slow=20:x:10").find("'slow=20:x:10'") != std::string::npos);
    CHECK(error_of("fast=5:30:5,slow=20:x:10").find("stop 'x'") != std::string::npos);
    CHECK(error_of("fast").find("'fast'") != std::string::npos);
    CHECK(error_of("fast=30:5:5").find("start must be <= stop") != std::string::npos);
    CHECK(error_of("fast=5:30:0").find("step must be > 0") != std::string::npos);
    CHECK(error_of("fast=5:30").find("start:stop:step") != std::string::npos);
    CHECK(error_of("fast=1|2,fast=3").find("appears twice") != std::string::npos);
    CHECK(error_of("fast=1||2").find("empty value") != std::string::npos);
    CHECK(error_of("1x=1").find("identifier") != std::string::npos);
    CHECK(error_of("a=1,,b=2").find("empty part") != std::string::npos);
    CHECK(error_of("a=1:1000:1,b=1:1000:1,c=1:10:1").find("combinations") != std::string::npos);
    CHECK(error_of("") != "");
}

TEST_CASE("sweep: combinations vary the first axis slowest and override params") {
    const auto c = combinations(parse_grid("fast=1|2,slow=10|20|30"));
    REQUIRE(c.size() == 6);
    CHECK(c[0] == named_scalars{{"fast", std::int64_t{1}}, {"slow", std::int64_t{10}}});
    CHECK(c[2] == named_scalars{{"fast", std::int64_t{1}}, {"slow", std::int64_t{30}}});
    CHECK(c[3] == named_scalars{{"fast", std::int64_t{2}}, {"slow", std::int64_t{10}}});
    const named_scalars base{{"fast", std::int64_t{10}}, {"risk_reward", 2.0}};
    CHECK(override_params(base, c[5]) == named_scalars{{"fast", std::int64_t{2}},
                                                       {"risk_reward", 2.0},
                                                       {"slow", std::int64_t{30}}});
}

TEST_CASE("sweep: parallel_for runs every task once and reports progress in order") {
    std::vector<int> hits(101, 0);
    std::vector<std::size_t> seen;
    parallel_for(
        hits.size(), 2, [&](std::size_t i) { ++hits[i]; },
        [&](std::size_t done, std::size_t total) {
            CHECK(total == hits.size());
            seen.push_back(done);
        });
    CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
    REQUIRE(seen.size() == hits.size());
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(seen.back() == hits.size());
}

TEST_CASE("sweep: valid(params) prunes combinations before they run") {
    const auto sym = symbol(variant_script("", "function valid(p) return p.fast < p.slow end"));
    CHECK(check_valid(sym, {}, {{"fast", std::int64_t{10}}, {"slow", std::int64_t{30}}}) ==
          std::optional<bool>(true));
    CHECK(check_valid(sym, {}, {{"fast", std::int64_t{30}}, {"slow", std::int64_t{20}}}) ==
          std::optional<bool>(false));
    CHECK_FALSE(check_valid(symbol(), {}, symbol().params).has_value());

    sweep_options o;
    o.threads = 2;
    const auto r = sweep(sym, {}, {}, btc_candles(), parse_grid("fast=10|30,slow=20|40"), o);
    CHECK(r.combinations == 4);
    CHECK(r.pruned == 1);
    REQUIRE(r.rows.size() == 3);
    for (const auto& row : r.rows) {
        CHECK(std::get<std::int64_t>(row.params[0].second) <
              std::get<std::int64_t>(row.params[1].second));
        CHECK(row.error.empty());
        CHECK(row.stats.candles == btc_candles().size());
    }
}

TEST_CASE("sweep: 1 and 2 threads give identical sweep.csv") {
    const auto axes = parse_grid("fast=5:15:5,slow=30|50");
    sweep_options one;
    one.threads = 1;
    sweep_options two;
    two.threads = 2;
    const auto a = sweep(symbol(), {}, {}, btc_candles(), axes, one);
    const auto b = sweep(symbol(), {}, {}, btc_candles(), axes, two);
    const std::string csv = csv_of(a);
    CHECK(csv == csv_of(b));
    CHECK(csv.rfind("rank,fast,slow,trades,win_rate,net_pnl,fees,max_drawdown,sharpe,sortino,"
                    "profit_factor,exposure,strategy_errors,error\n",
                    0) == 0);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 7);
    // The strategy really traded, so the comparison compares something.
    CHECK(std::any_of(a.rows.begin(), a.rows.end(),
                      [](const auto& r) { return r.stats.trades > 0; }));
}

TEST_CASE("sweep: rows are ranked by the chosen metric") {
    const auto axes = parse_grid("fast=5|10|20,slow=30|60");
    sweep_options o;
    o.threads = 2;
    o.rank_by = metric::net_pnl;
    const auto by_pnl = sweep(symbol(), {}, {}, btc_candles(), axes, o);
    REQUIRE(by_pnl.rows.size() == 6);
    for (std::size_t i = 0; i < by_pnl.rows.size(); ++i) {
        CHECK(by_pnl.rows[i].rank == i + 1);
        if (i > 0) CHECK(by_pnl.rows[i - 1].stats.net_pnl >= by_pnl.rows[i].stats.net_pnl);
    }
    o.rank_by = metric::max_drawdown;  // lower is better
    const auto by_dd = sweep(symbol(), {}, {}, btc_candles(), axes, o);
    for (std::size_t i = 1; i < by_dd.rows.size(); ++i)
        CHECK(by_dd.rows[i - 1].stats.max_drawdown <= by_dd.rows[i].stats.max_drawdown);
    CHECK(parse_metric("sortino") == metric::sortino);
    CHECK_FALSE(parse_metric("pnl").has_value());
}

TEST_CASE("sweep: a run whose script fails is a row with the error, ranked last") {
    const auto sym =
        symbol(variant_script("if params.fast == 7 then error('fast 7 is cursed') end", ""));
    sweep_options o;
    o.threads = 2;
    const auto r = sweep(sym, {}, {}, btc_candles(), parse_grid("fast=5|7|9"), o);
    REQUIRE(r.rows.size() == 3);
    CHECK(r.failed == 1);
    CHECK(r.rows.back().error.find("fast 7 is cursed") != std::string::npos);
    CHECK(std::get<std::int64_t>(r.rows.back().params[0].second) == 7);
    CHECK(r.rows.front().error.empty());
    CHECK(csv_of(r).find("fast 7 is cursed") != std::string::npos);
}
