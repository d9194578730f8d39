#pragma once
// Monte Carlo: a strategy run over many price paths of the simulated feed's model
// (feed::sim_generator: GBM with the symbol's [symbols.sim] drift, volatility and spread, the
// [feed.sim] ticks per candle and warm-up), to see the distribution of its outcomes rather than
// the one history a backtest replays.
//
// Path k's generator is seeded with path_seed(seed, k); its events (quotes, forming-candle
// updates, closed candles) go straight into a fresh engine::runner_core, the daemon's own
// decision code. Paths run in parallel, each with its own runner and Lua VM; outcomes are stored
// per path and aggregated in path order, so the result is identical for the same seed whatever
// the thread count.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <tradingd/config/config.hpp>

namespace tradingd::backtest {

/// The seed of path `k` of a Monte Carlo run seeded with `seed` (a splitmix64 mix of both:
/// neighbouring paths and neighbouring seeds give unrelated streams).
std::uint64_t path_seed(std::uint64_t seed, std::uint64_t k) noexcept;

/// The `p`-th percentile (0..100) of `sorted` (ascending, non-empty) by linear interpolation
/// between closest ranks (position p/100 * (n - 1), as numpy's default).
double percentile(const std::vector<double>& sorted, double p) noexcept;

/// A distribution's summary. All zero (count 0) for no values.
struct distribution {
    std::size_t count = 0;
    double mean = 0;
    double min = 0;
    double p5 = 0;
    double p25 = 0;
    double p50 = 0;
    double p75 = 0;
    double p95 = 0;
    double max = 0;
};
/// Summarises `values` (any order).
distribution describe(std::vector<double> values);

/// What one path's run came to.
struct path_outcome {
    std::uint64_t seed = 0;  ///< path_seed(seed, k)
    double net_pnl = 0;      ///< realised P&L after fees, plus an open position marked at the end
    double fees = 0;
    double max_drawdown = 0;  ///< largest fall of equity from its running peak (>= 0), per candle
    std::size_t trades = 0;
    std::size_t wins = 0;  ///< trades with net P&L > 0
    double win_rate = 0;   ///< wins / trades (0 without trades)
    double final_price = 0;
    std::uint64_t strategy_errors = 0;
};

struct montecarlo_options {
    std::size_t paths = 100;
    std::uint64_t seed = 1;
    std::size_t candles = 1000;  ///< closed candles traded per path (after the warm-up)
    unsigned threads = 0;        ///< 0: hardware_concurrency
    /// Called after each path, serialized; may be empty.
    std::function<void(std::size_t done, std::size_t total)> progress;
};

struct montecarlo_result {
    std::string symbol;
    std::string strategy;
    std::uint64_t seed = 0;
    std::size_t candles = 0;          ///< per path
    std::vector<path_outcome> paths;  ///< in path order
    distribution net_pnl;             ///< over all paths
    distribution max_drawdown;        ///< over all paths
    distribution win_rate;            ///< over the paths with at least one trade
    distribution trades;              ///< over all paths
    double profitable_fraction = 0;   ///< paths with net_pnl > 0 / paths
    double seconds = 0;               ///< wall time
};

/// Runs `options.paths` paths of `options.candles` closed candles for `symbol` (its script,
/// params, quantity and [symbols.sim] model) with `feed`'s ticks per candle, warm-up and start
/// time (its seed is replaced per path). Throws std::runtime_error when the script does not load
/// (with the Lua error) and std::invalid_argument for unusable model parameters, zero paths or
/// zero candles.
montecarlo_result montecarlo(const config::sim_feed_config& feed,
                             const config::symbol_config& symbol,
                             const config::sandbox_config& sandbox,
                             const config::paper_config& paper, const montecarlo_options& options);

/// Writes montecarlo.json: the run's parameters, the distributions (count, mean, min, p5, p25,
/// p50, p75, p95, max) of net_pnl, max_drawdown, win_rate and trades, the profitable fraction,
/// and every path's outcome. Excludes wall time, so the same seed gives the same bytes.
void write_montecarlo_json(std::ostream& out, const montecarlo_result& r);

}  // namespace tradingd::backtest
