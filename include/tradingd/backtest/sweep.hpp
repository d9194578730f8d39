#pragma once
// Parameter sweeps: one backtest per combination of a grid of strategy params, run in parallel
// (a pool of worker threads, each run with its own runner_core and Lua VM) over candles loaded
// once and shared read-only, then ranked by a chosen metric.
//
//   grid "fast=5:30:5,slow=20:100:10"  -> combinations (the first axis varies slowest)
//        -> valid(params) in the script (optional) prunes some
//        -> backtest::run per remaining combination -> rows ranked by the metric -> sweep.csv
//
// Results never depend on the thread count or on scheduling: every run is a pure function of its
// combination, each result goes to its combination's slot, and ties in the ranking are broken by
// combination order.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tradingd/backtest/backtest.hpp>
#include <tradingd/config/config.hpp>
#include <tradingd/core/market_types.hpp>
#include <tradingd/core/scalar.hpp>

namespace tradingd::backtest {

/// One parameter's values in a grid.
struct grid_axis {
    std::string name;
    std::vector<scalar> values;  ///< in the order given (ranges ascending)
};

/// Parses a grid: comma-separated parts, each "name=start:stop:step" (stop inclusive; integers
/// when all three are integers, otherwise floats; step > 0, start <= stop) or "name=a|b|c"
/// (each value an integer, a float, true/false, or else a string). A single value "name=v" is a
/// one-element list. Throws std::invalid_argument naming the offending part ("grid part
/// 'fast=5:x:5': ...") for bad syntax, an empty or duplicate name, or more than 1,000,000
/// combinations.
std::vector<grid_axis> parse_grid(std::string_view text);

/// Every combination of the axes' values, the first axis varying slowest; each one lists the
/// params in axis order. One empty combination when there are no axes.
std::vector<named_scalars> combinations(const std::vector<grid_axis>& axes);

/// `base` with each of `overrides` replacing the param of the same name (or appended).
named_scalars override_params(const named_scalars& base, const named_scalars& overrides);

/// What ranks the rows. max_drawdown ranks lower first; the others higher first.
enum class metric : std::uint8_t {
    net_pnl,
    sharpe,
    sortino,
    profit_factor,
    win_rate,
    max_drawdown
};

/// "net_pnl", "sharpe", ... or nullopt for an unknown name.
std::optional<metric> parse_metric(std::string_view name) noexcept;
const char* metric_name(metric m) noexcept;
/// The summary's figure for `m`.
double metric_value(const summary& s, metric m) noexcept;

/// Runs `count` tasks on `threads` worker threads (0: std::thread::hardware_concurrency(); never
/// more threads than tasks): task(i) for every i in [0, count), each exactly once, in no
/// particular order. `progress(done, count)` (optional) is called after each task, serialized
/// (never concurrently), with `done` increasing. A task must not throw: an exception escaping
/// it terminates the program.
void parallel_for(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& task,
                  const std::function<void(std::size_t, std::size_t)>& progress = {});

/// Loads `symbol`'s script with `params` in a fresh sandboxed VM and asks its optional
/// `valid(params)`: nullopt when the script defines none, else its verdict. Throws
/// std::runtime_error with the Lua error when the script does not load or valid() fails.
std::optional<bool> check_valid(const config::symbol_config& symbol,
                                const config::sandbox_config& sandbox, const named_scalars& params);

struct sweep_options {
    metric rank_by = metric::net_pnl;
    unsigned threads = 0;  ///< 0: hardware_concurrency
    /// Passed to every run; keep_decisions and keep_equity are forced off (rows need neither).
    run_options run;
    /// Called after each combination (pruned ones too), serialized; may be empty.
    std::function<void(std::size_t done, std::size_t total)> progress;
};

/// One run of a sweep.
struct sweep_row {
    std::size_t rank = 0;   ///< 1 = best; rows that failed come last
    std::size_t index = 0;  ///< the combination's position in combinations(axes)
    named_scalars params;   ///< the combination (grid axes only, in axis order)
    summary stats;          ///< zero when the run failed
    std::string error;      ///< why the run failed (a script error), or ""
};

struct sweep_result {
    std::vector<std::string> param_names;  ///< the grid axes, in order
    std::vector<sweep_row> rows;           ///< ranked; pruned combinations excluded
    std::size_t combinations = 0;          ///< all of them, pruned included
    std::size_t pruned = 0;                ///< rejected by the script's valid(params)
    std::size_t failed = 0;                ///< rows with an error
    metric rank_by = metric::net_pnl;
    double seconds = 0;  ///< wall time of the whole sweep
};

/// Runs every combination of `axes` over `candles` with `symbol`'s script, its params overridden
/// by the combination. A combination the script's valid(params) rejects is not run (counted in
/// `pruned`); a run whose script fails to load, or whose valid() fails, becomes a row with an
/// error. Throws std::invalid_argument when `candles` is empty.
sweep_result sweep(const config::symbol_config& symbol, const config::sandbox_config& sandbox,
                   const config::paper_config& paper, const std::vector<candle>& candles,
                   const std::vector<grid_axis>& axes, const sweep_options& options = {});

/// Writes sweep.csv: a header, then one line per row in rank order: rank, each param, trades,
/// win_rate, net_pnl, fees, max_drawdown, sharpe, sortino, profit_factor, exposure, error.
/// Numbers are printed in their shortest exact form, so equal results give equal bytes.
void write_sweep_csv(std::ostream& out, const sweep_result& r);

}  // namespace tradingd::backtest
