// Backtest throughput, against a plain C++ floor measured in the same run, and sweep scaling.
//
//   build/tests/bench/backtest_bench [copies]
//
// Input: the 65,741 real 5-minute BTCUSDT candles of ../shared/binance-data/BTC_USDT-5m.json,
// replicated end to end (each copy shifted in time past the previous one) to >= 1,000,000 candles
// (16 copies: 1,051,856 candles; `copies` overrides).
//
// engine       backtest::run with lua-strategies/sma_cross.lua (fast 10, slow 30): the intrabar
//              model (4 quotes + the closed candle per candle) through engine::runner_core, the
//              sandboxed Lua calls, paper fills, the equity statistics; keep_decisions and
//              keep_equity off. Parsing excluded.
// with parsing the same candles written to a temp JSON file ([t,o,h,l,c,v] rows) first;
//              feed::read_kline_file of it + backtest::run.
// floor        a plain C++ loop over the same candles: SMA(10)/SMA(30) by running sums, the same
//              crossover rules as sma_cross.lua (a cross up opens an analysis, the next candle
//              enters long if the cross held, with the stop under the 10-candle low and the target
//              at 2 R; exit when the fast SMA falls under the slow one; stop and target checked
//              on the same four intrabar prices), fees at 10 bp. No Lua, no engine.
// sweep        backtest::sweep of 8 combinations (fast 5|10|15|20 x slow 30|60) over the 65,741
//              candles on 1 and 2 threads: runs/s.
//
// Wall-clock figures; the machine is shared, so each is ±10%.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <tradingd/backtest/backtest.hpp>
#include <tradingd/backtest/sweep.hpp>
#include <tradingd/feed/kline_file.hpp>

using namespace tradingd;
namespace fs = std::filesystem;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// CPU seconds used by the process so far (all threads). On this shared machine the scheduler
/// shares the cores among sessions, so wall-clock rates drop with the neighbours' load while
/// CPU-time rates stay put: both are printed.
double cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

config::symbol_config sma_cross_symbol() {
    config::symbol_config s;
    s.symbol = "BTCUSDT";
    s.strategy = "sma_cross";
    s.strategy_path = fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies" / "sma_cross.lua";
    s.interval = "5m";
    s.interval_ms = 300'000;
    s.quantity = 0.01;
    s.params = {{"fast", std::int64_t{10}}, {"slow", std::int64_t{30}}};
    return s;
}

/// `base` repeated `copies` times, each copy shifted in time to follow the previous one.
std::vector<candle> replicate(const std::vector<candle>& base, std::size_t copies) {
    const std::int64_t interval = base[1].open_time - base[0].open_time;
    const std::int64_t span = base.back().open_time - base.front().open_time + interval;
    std::vector<candle> out;
    out.reserve(base.size() * copies);
    for (std::size_t k = 0; k < copies; ++k) {
        const std::int64_t shift = span * static_cast<std::int64_t>(k);
        for (candle c : base) {
            c.open_time += shift;
            c.close_time += shift;
            out.push_back(c);
        }
    }
    return out;
}

fs::path write_json(const std::vector<candle>& candles) {
    const fs::path p = fs::temp_directory_path() /
                       ("tradingd-backtest-bench-" + std::to_string(::getpid()) + ".json");
    std::FILE* f = std::fopen(p.c_str(), "w");
    if (f == nullptr) {
        std::perror("backtest_bench: temp file");
        std::exit(1);
    }
    std::fputc('[', f);
    for (std::size_t i = 0; i < candles.size(); ++i) {
        const candle& c = candles[i];
        std::fprintf(f, "%s[%lld,%.17g,%.17g,%.17g,%.17g,%.17g]", i == 0 ? "" : ",",
                     static_cast<long long>(c.open_time), c.open, c.high, c.low, c.close, c.volume);
    }
    std::fputs("]\n", f);
    std::fclose(f);
    return p;
}

/// The same candles as a Binance kline CSV (12 columns, no header), as data.binance.vision ships.
fs::path write_csv(const std::vector<candle>& candles) {
    const fs::path p = fs::temp_directory_path() /
                       ("tradingd-backtest-bench-" + std::to_string(::getpid()) + ".csv");
    std::FILE* f = std::fopen(p.c_str(), "w");
    if (f == nullptr) {
        std::perror("backtest_bench: temp file");
        std::exit(1);
    }
    for (const candle& c : candles) {
        std::fprintf(f, "%lld,%.8f,%.8f,%.8f,%.8f,%.8f,%lld,0,0,0,0,0\n",
                     static_cast<long long>(c.open_time), c.open, c.high, c.low, c.close, c.volume,
                     static_cast<long long>(c.close_time));
    }
    std::fclose(f);
    return p;
}

/// Wall-clock and CPU seconds of a stretch of the bench.
struct span {
    double wall = 0;
    double cpu = 0;
};
class stopwatch {
public:
    span elapsed() const { return {seconds_since(wall_), cpu_seconds() - cpu_}; }

private:
    clock_type::time_point wall_ = clock_type::now();
    double cpu_ = cpu_seconds();
};

/// feed::read_kline_file of `path` (then deleted), then the backtest over what it read.
struct parse_and_run {
    span parse;
    span total;
    std::size_t trades = 0;
};
parse_and_run time_parse_and_run(const fs::path& path, const config::symbol_config& sym,
                                 const backtest::run_options& ro) {
    parse_and_run r;
    const stopwatch sw;
    const auto parsed = feed::read_kline_file(path);
    r.parse = sw.elapsed();
    r.trades = backtest::run(sym, {}, {}, parsed, ro).stats.trades;
    r.total = sw.elapsed();
    fs::remove(path);
    return r;
}

struct floor_result {
    std::size_t trades = 0;
    double net_pnl = 0;
};

/// sma_cross.lua's rules in plain C++ (see the file comment).
floor_result floor_loop(const std::vector<candle>& candles) {
    constexpr std::size_t fast_n = 10;
    constexpr std::size_t slow_n = 30;
    constexpr std::size_t stop_lookback = 10;
    constexpr double risk_reward = 2;
    constexpr double qty = 0.01;
    constexpr double fee = 10e-4;         // 10 bp
    constexpr double half_spread = 1e-4;  // 2 bp spread
    std::vector<double> closes(candles.size());
    std::vector<double> lows(candles.size());
    double fast_sum = 0;
    double slow_sum = 0;
    enum class phase { idle, analyzing, in_position } ph = phase::idle;
    int fast_above = -1;  // -1: unknown (nil in Lua)
    double entry = 0, stop = 0, target = 0, entry_fee = 0;
    floor_result r;
    const auto exit_at = [&](double bid) {
        r.net_pnl += (bid - entry) * qty - entry_fee - bid * qty * fee;
        ++r.trades;
        ph = phase::idle;
    };
    for (std::size_t i = 0; i < candles.size(); ++i) {
        const candle& c = candles[i];
        // Auto-exit on the intrabar path: open, nearer extreme, farther extreme, close.
        if (ph == phase::in_position) {
            const bool high_first = c.high - c.open <= c.open - c.low;
            const double path[4] = {c.open, high_first ? c.high : c.low,
                                    high_first ? c.low : c.high, c.close};
            for (const double mid : path) {
                const double bid = mid * (1 - half_spread);
                if (bid <= stop || bid >= target) {
                    exit_at(bid);
                    break;
                }
            }
        }
        closes[i] = c.close;
        lows[i] = c.low;
        fast_sum += c.close;
        slow_sum += c.close;
        if (i >= fast_n) fast_sum -= closes[i - fast_n];
        if (i >= slow_n) slow_sum -= closes[i - slow_n];
        if (i + 1 < slow_n) continue;
        const double fast = fast_sum / fast_n;
        const double slow = slow_sum / slow_n;
        const double ask = c.close * (1 + half_spread);
        const double bid = c.close * (1 - half_spread);
        switch (ph) {
            case phase::idle: {
                const int above = fast > slow ? 1 : 0;
                if (above == 1 && fast_above == 0) ph = phase::analyzing;
                fast_above = above;
                break;
            }
            case phase::analyzing: {
                if (fast <= slow) {
                    fast_above = 0;
                    ph = phase::idle;
                    break;
                }
                double low = lows[i];
                for (std::size_t k = 1; k < stop_lookback; ++k)
                    low = std::min(low, lows[i - k]);
                stop = low >= ask * 0.999 ? ask * 0.99 : low;
                entry = ask;
                target = entry + (entry - stop) * risk_reward;
                entry_fee = entry * qty * fee;
                ph = phase::in_position;
                break;
            }
            case phase::in_position:
                if (fast < slow) {
                    fast_above = 0;
                    exit_at(bid);
                } else if (stop < entry && bid > entry + (entry - stop)) {
                    stop = entry;  // break-even
                }
                break;
        }
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t copies = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 16;
    const fs::path data = fs::path(TRADINGD_SHARED_DIR) / "binance-data" / "BTC_USDT-5m.json";
    const std::vector<candle> base = feed::read_kline_file(data);
    const std::vector<candle> candles = replicate(base, std::max<std::size_t>(copies, 1));
    const auto n = static_cast<double>(candles.size());
    std::printf("backtest_bench: %zu candles (%zu copies of %zu)\n", candles.size(), copies,
                base.size());

    backtest::run_options ro;
    ro.keep_decisions = false;
    ro.keep_equity = false;
    const auto sym = sma_cross_symbol();

    // (1) engine, parsing excluded
    const stopwatch engine_sw;
    const auto run = backtest::run(sym, {}, {}, candles, ro);
    const span engine = engine_sw.elapsed();

    // (1b) parsing included: JSON rows and Binance CSV
    const auto json = time_parse_and_run(write_json(candles), sym, ro);
    const auto csv = time_parse_and_run(write_csv(candles), sym, ro);

    // (2) the floor
    const stopwatch floor_sw;
    const floor_result fl = floor_loop(candles);
    const span floor = floor_sw.elapsed();

    const auto rates = [n](const char* label, span t) {
        std::printf("  %-34s: %11.0f candles/s CPU, %11.0f wall (%.3f s CPU)", label, n / t.cpu,
                    n / t.wall, t.cpu);
    };
    std::printf("\nsummary (this run, one core):\n");
    rates("engine, parsing excluded", engine);
    std::printf("; %zu trades, net P&L %.2f\n", run.stats.trades, run.stats.net_pnl);
    rates("parsing alone (JSON)", json.parse);
    std::printf("\n");
    rates("engine, parsing included (JSON)", json.total);
    std::printf("; %zu trades\n", json.trades);
    rates("parsing alone (CSV)", csv.parse);
    std::printf("\n");
    rates("engine, parsing included (CSV)", csv.total);
    std::printf("; %zu trades\n", csv.trades);
    rates("floor (plain C++ loop)", floor);
    std::printf("; %zu trades, net P&L %.2f\n", fl.trades, fl.net_pnl);
    std::printf("  %-34s: %11.1fx CPU time, %.1fx wall (parsing excluded)\n",
                "overhead over the floor", engine.cpu / floor.cpu, engine.wall / floor.wall);
    const double best_total = std::min(json.total.cpu, csv.total.cpu);
    std::printf("  %-34s: %s parsing excluded, %s included (CPU time)\n",
                "target >= 1,000,000 candles/s", n / engine.cpu >= 1e6 ? "met" : "NOT met",
                n / best_total >= 1e6 ? "met" : "NOT met");

    // (3) sweep scaling: wall clock (CPU time does not shrink with threads)
    const auto axes = backtest::parse_grid("fast=5|10|15|20,slow=30|60");
    double rate1 = 0;
    for (const unsigned threads : {1u, 2u}) {
        backtest::sweep_options so;
        so.threads = threads;
        // Best of 3: the machine is shared; the slower runs measure the neighbours.
        double rate = 0;
        span best;
        std::size_t runs = 0;
        for (int rep = 0; rep < 3; ++rep) {
            const stopwatch sw;
            const auto r = backtest::sweep(sym, {}, {}, base, axes, so);
            const span t = sw.elapsed();
            const double x = static_cast<double>(r.rows.size()) / t.wall;
            if (x > rate) {
                rate = x;
                best = t;
                runs = r.rows.size();
            }
        }
        if (threads == 1) rate1 = rate;
        std::printf(
            "  sweep, %u thread%s, best of 3       : %11.2f runs/s wall (%zu runs of %zu "
            "candles in %.2f s; %.2f s CPU)",
            threads, threads == 1 ? " " : "s", rate, runs, base.size(), best.wall, best.cpu);
        if (threads == 2 && rate1 > 0) std::printf(", %.2fx the 1-thread rate", rate / rate1);
        std::printf("\n");
    }
    return 0;
}
