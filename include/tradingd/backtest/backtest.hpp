#pragma once
// backtest: the live runner's code (engine::runner_core) run over historical candles, on the
// calling thread, as fast as possible. Nothing here decides anything: runner_core does, exactly
// as in the daemon, so a backtest and a live session that see the same events make the same
// decisions.
//
//   candles -> intrabar model -> market events -> runner_core -> decision records
//                                                              -> trades, equity curve, summary
//
// Thread-safety: a run touches only its own objects; runs may execute on different threads at
// once (sweeps), each with its own runner_core and Lua VM.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/core/market_types.hpp>

namespace spdlog {
class logger;
}

namespace tradingd::backtest {

/// How a candle becomes the quotes the auto-exit sees (documented in docs/backtest.md): the open,
/// then the extreme nearer the open (high first when high - open <= open - low), then the other
/// extreme, then the close; each quote is mid ± spread/2; then the closed candle itself. A stop
/// and a target inside the same candle are therefore hit in the order the price most likely took.
struct intrabar_model {
    double spread_bps = 2;  ///< bid/ask spread around each price, basis points (>= 0)
};

/// The 5 events of one candle under `m`: 4 quotes (open, first extreme, second extreme, close),
/// then the candle_closed event. Quote times are spread inside the candle, in order.
std::array<market_event, 5> candle_events(const candle& c, const intrabar_model& m);

/// Missing candles and zero-volume flat candles found in a series (never silently bridged: a
/// backtest reports them in summary.json and on stderr).
struct gap {
    timestamp_ms from = 0;     ///< open time of the first missing candle
    std::int64_t missing = 0;  ///< candles missing from there
};
struct data_report {
    std::int64_t interval_ms = 0;
    std::size_t candles = 0;
    std::vector<gap> gaps;
    std::size_t missing_candles = 0;
    std::size_t flat_zero_volume = 0;  ///< open == high == low == close and volume == 0
    std::size_t out_of_order = 0;      ///< dropped: open time not after the previous one
};

/// Checks `candles` (sorted by open time) against `interval_ms`.
data_report inspect(const std::vector<candle>& candles, std::int64_t interval_ms);

/// Aggregates candles of interval `from_ms` into `to_ms` (a multiple of it) buckets aligned to the
/// epoch: open of the first, high/low extremes, close of the last, summed volume. A bucket with
/// missing source candles is still produced from what exists and counted in `incomplete`.
std::vector<candle> aggregate(const std::vector<candle>& candles, std::int64_t from_ms,
                              std::int64_t to_ms, std::size_t* incomplete = nullptr);

struct trade {
    std::string side;  ///< "long" / "short"
    double quantity = 0;
    double entry_price = 0;
    double exit_price = 0;
    timestamp_ms opened_at = 0;
    timestamp_ms closed_at = 0;
    double fees = 0;  ///< entry + exit fees of the closed trades
    double net_pnl = 0;
    std::string exit_reason;
};

struct equity_point {
    timestamp_ms ts = 0;  ///< close time of the candle
    double equity = 0;    ///< cash + open position marked at the close
    double drawdown = 0;  ///< equity - running peak (<= 0)
};

struct summary {
    std::string symbol;
    std::string script_hash;
    std::int64_t interval_ms = 0;  ///< of the candles run (after any aggregation)
    std::size_t candles = 0;
    std::size_t trades = 0;
    std::size_t wins = 0;      ///< trades with net_pnl > 0
    std::size_t losses = 0;    ///< trades with net_pnl < 0
    double starting_cash = 0;  ///< [paper] starting_cash: the equity before the first candle
    double final_equity = 0;   ///< at the last candle's close (an open position marked there)
    double return_pct = 0;     ///< (final_equity / starting_cash - 1) * 100
    bool open_at_end = false;  ///< a position was still open after the last candle (not a trade)
    double win_rate = 0;       ///< wins / trades (0 without trades)
    double gross_pnl = 0;      ///< of the closed trades, before fees
    double net_pnl = 0;        ///< after fees
    double fees = 0;           ///< entry + exit fees of the closed trades
    double max_drawdown = 0;   ///< quote currency, >= 0
    double max_drawdown_pct = 0;
    double sharpe = 0;  ///< of per-candle equity returns, annualised by the interval
    double sortino = 0;
    double exposure = 0;  ///< fraction of candles with an open position
    /// Sum of winning trades' net_pnl / |sum of losing trades' net_pnl|; 0 without a losing trade
    /// (summary.json then writes null: the ratio is undefined, docs/backtest.md).
    double profit_factor = 0;
    double seconds = 0;  ///< wall time of the run (excluding loading)
    double candles_per_s = 0;
    std::uint64_t strategy_errors = 0;
};

struct run_options {
    intrabar_model intrabar;
    bool keep_decisions = true;  ///< decision-log lines (JSON) in the result
    bool keep_equity = true;     ///< the equity curve in the result (a point per candle)
    /// The runner's (and the script's log.*) logger; null: warnings and errors to stderr.
    std::shared_ptr<spdlog::logger> logger;
    /// Called with (candles done, total) every 4096 candles and after the last one; may be empty.
    std::function<void(std::size_t, std::size_t)> progress;
};

/// Streaming statistics of an equity curve (one value per candle close), so a run needs no
/// stored curve for its metrics. Formulas: docs/backtest.md, "Metrics".
class equity_stats {
public:
    explicit equity_stats(double starting_equity) noexcept;
    /// The equity at a candle's close, and whether a position was open then. Returns the
    /// drawdown (equity - running peak, <= 0).
    double add(double equity, bool in_position) noexcept;
    /// Fills max_drawdown(_pct), sharpe, sortino, exposure, final_equity, return_pct,
    /// starting_cash and candles of `s`; `interval_ms` annualises Sharpe and Sortino.
    void fill(summary& s, std::int64_t interval_ms) const noexcept;

private:
    double start_;
    double last_;
    double peak_;
    double max_dd_ = 0;
    double max_dd_pct_ = 0;
    std::size_t n_ = 0;        ///< returns seen (= candles)
    double mean_ = 0;          ///< Welford running mean of returns
    double m2_ = 0;            ///< Welford sum of squared deviations
    double downside_sq_ = 0;   ///< sum of min(r, 0)^2
    std::size_t exposed_ = 0;  ///< candles ending with a position open
};

/// Fills the trade statistics of `s` (trades, wins, losses, win_rate, gross/net pnl, fees,
/// profit_factor) from `trades`.
void fill_trade_stats(summary& s, const std::vector<trade>& trades) noexcept;

struct run_result {
    summary stats;
    std::vector<trade> trades;
    std::vector<equity_point> equity;
    std::vector<std::string> decisions;  ///< JSON lines, as the daemon's decision log writes them
};

/// Runs `symbol`'s script (its params and quantity) over `candles` (one symbol, sorted) with a
/// fresh runner_core: warm-up none; every candle through candle_events. Throws std::runtime_error
/// when the script cannot be loaded (with the Lua error), or when memory ran out while keeping
/// the run's records (the result would be incomplete). Trades are the positions closed during
/// the run; one still open after the last candle only counts in the equity (summary.open_at_end).
run_result run(const config::symbol_config& symbol, const config::sandbox_config& sandbox,
               const config::paper_config& paper, const std::vector<candle>& candles,
               const run_options& options = {});

}  // namespace tradingd::backtest
