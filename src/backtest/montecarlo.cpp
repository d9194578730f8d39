#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>

#include <tradingd/backtest/backtest.hpp>
#include <tradingd/backtest/montecarlo.hpp>
#include <tradingd/backtest/sweep.hpp>
#include <tradingd/engine/runner_core.hpp>
#include <tradingd/feed/sim_feed.hpp>

namespace tradingd::backtest {
namespace {

std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

std::shared_ptr<spdlog::logger> null_logger() {
    static const auto log = std::make_shared<spdlog::logger>(
        "montecarlo", std::make_shared<spdlog::sinks::null_sink_mt>());
    return log;
}

/// Counts the path's trades from the runner's own fill records (an exit's fill carries the
/// trade's net P&L).
class trade_counter final : public engine::decision_sink {
public:
    void write(const engine::decision_record& r) noexcept override {
        if (r.pnl && std::string_view(r.event) == "fill") {
            ++trades;
            if (*r.pnl > 0) ++wins;
        }
    }
    std::size_t trades = 0;
    std::size_t wins = 0;
};

/// Cash plus the open position marked at `price` (as backtest::run marks it).
double equity_at(const engine::runner_core& core, double price) noexcept {
    double equity = core.broker().cash();
    if (const auto& pos = core.machine().current_position()) {
        const double value = pos->quantity * price;
        equity += pos->direction == strategy::side::long_side ? value : -value;
    }
    return equity;
}

path_outcome run_path(const config::sim_feed_config& feed, const config::symbol_config& symbol,
                      const config::sandbox_config& sandbox, const config::paper_config& paper,
                      std::uint64_t seed, std::size_t candles) {
    config::sim_feed_config f = feed;
    f.seed = seed;
    feed::sim_generator gen(f, symbol, 0);
    trade_counter counter;
    engine::runner_core core(symbol, sandbox, paper, counter, null_logger());
    equity_stats stats(paper.starting_cash);
    path_outcome out;
    out.seed = seed;
    for (std::size_t closed = 0; closed < candles;) {
        const market_event e = gen.next();
        core.on_event(e);
        if (e.kind != event_kind::candle_closed || e.warmup) continue;
        ++closed;
        stats.add(equity_at(core, e.bar.close), core.machine().current_position().has_value());
        out.final_price = e.bar.close;
    }
    summary s;
    stats.fill(s, symbol.interval_ms);
    out.net_pnl = s.final_equity - paper.starting_cash;
    out.fees = core.broker().fees_paid();
    out.max_drawdown = s.max_drawdown;
    out.trades = counter.trades;
    out.wins = counter.wins;
    out.win_rate =
        out.trades > 0 ? static_cast<double>(out.wins) / static_cast<double>(out.trades) : 0.0;
    out.strategy_errors = core.summary().strategy_errors;
    return out;
}

nlohmann::ordered_json to_json(const distribution& d) {
    return nlohmann::ordered_json{{"count", d.count}, {"mean", d.mean}, {"min", d.min},
                                  {"p5", d.p5},       {"p25", d.p25},   {"p50", d.p50},
                                  {"p75", d.p75},     {"p95", d.p95},   {"max", d.max}};
}

}  // namespace

std::uint64_t path_seed(std::uint64_t seed, std::uint64_t k) noexcept {
    return splitmix64(splitmix64(seed) ^ splitmix64(k + 0x632BE59BD9B4E019ULL));
}

double percentile(const std::vector<double>& sorted, double p) noexcept {
    if (sorted.empty()) return 0;
    const double pos = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

distribution describe(std::vector<double> values) {
    distribution d;
    if (values.empty()) return d;
    std::sort(values.begin(), values.end());
    d.count = values.size();
    double sum = 0;
    for (const double v : values)
        sum += v;  // in sorted order: the same sum whatever order the values came in
    d.mean = sum / static_cast<double>(values.size());
    d.min = values.front();
    d.max = values.back();
    d.p5 = percentile(values, 5);
    d.p25 = percentile(values, 25);
    d.p50 = percentile(values, 50);
    d.p75 = percentile(values, 75);
    d.p95 = percentile(values, 95);
    return d;
}

montecarlo_result montecarlo(const config::sim_feed_config& feed,
                             const config::symbol_config& symbol,
                             const config::sandbox_config& sandbox,
                             const config::paper_config& paper, const montecarlo_options& options) {
    if (options.paths == 0) throw std::invalid_argument("montecarlo: paths must be > 0");
    if (options.candles == 0) throw std::invalid_argument("montecarlo: candles must be > 0");
    const auto started = std::chrono::steady_clock::now();
    // Fail before any path runs: unusable model parameters throw here, a script that does not
    // load is reported once rather than as N suspended runners.
    feed::sim_generator check_model(feed, symbol, 0);
    trade_counter ignored;
    engine::runner_core probe(symbol, sandbox, paper, ignored, null_logger());
    if (probe.load_error()) {
        throw std::runtime_error("cannot load strategy '" + symbol.strategy_path.string() +
                                 "': " + *probe.load_error());
    }

    montecarlo_result r;
    r.symbol = symbol.symbol;
    r.strategy = symbol.strategy;
    r.seed = options.seed;
    r.candles = options.candles;
    r.paths.resize(options.paths);
    parallel_for(
        options.paths, options.threads,
        [&](std::size_t k) {
            r.paths[k] =
                run_path(feed, symbol, sandbox, paper, path_seed(options.seed, k), options.candles);
        },
        options.progress);

    std::vector<double> pnl, dd, wins, trades;
    std::size_t profitable = 0;
    for (const auto& p : r.paths) {
        pnl.push_back(p.net_pnl);
        dd.push_back(p.max_drawdown);
        trades.push_back(static_cast<double>(p.trades));
        if (p.trades > 0) wins.push_back(p.win_rate);
        if (p.net_pnl > 0) ++profitable;
    }
    r.net_pnl = describe(std::move(pnl));
    r.max_drawdown = describe(std::move(dd));
    r.win_rate = describe(std::move(wins));
    r.trades = describe(std::move(trades));
    r.profitable_fraction = static_cast<double>(profitable) / static_cast<double>(r.paths.size());
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return r;
}

void write_montecarlo_json(std::ostream& out, const montecarlo_result& r) {
    nlohmann::ordered_json j;
    j["symbol"] = r.symbol;
    j["strategy"] = r.strategy;
    j["seed"] = r.seed;
    j["paths"] = r.paths.size();
    j["candles_per_path"] = r.candles;
    j["net_pnl"] = to_json(r.net_pnl);
    j["max_drawdown"] = to_json(r.max_drawdown);
    j["win_rate"] = to_json(r.win_rate);
    j["trades"] = to_json(r.trades);
    j["profitable_fraction"] = r.profitable_fraction;
    auto& rows = j["path_outcomes"] = nlohmann::ordered_json::array();
    for (std::size_t k = 0; k < r.paths.size(); ++k) {
        const auto& p = r.paths[k];
        rows.push_back(nlohmann::ordered_json{{"path", k},
                                              {"seed", p.seed},
                                              {"net_pnl", p.net_pnl},
                                              {"fees", p.fees},
                                              {"max_drawdown", p.max_drawdown},
                                              {"trades", p.trades},
                                              {"wins", p.wins},
                                              {"win_rate", p.win_rate},
                                              {"final_price", p.final_price},
                                              {"strategy_errors", p.strategy_errors}});
    }
    out << j.dump(2) << '\n';
}

}  // namespace tradingd::backtest
