#pragma once
// `tradingd backtest`: load a config and a candle file, run the symbol's script over the candles
// (backtest::run) and write the run's files (docs/backtest.md):
//
//   summary.json    every summary field, the data report (gaps, missing and flat candles), the
//                   config and data paths and the run's options
//   trades.csv      a header and one row per closed trade
//   equity.csv      ts,time,equity,drawdown: one row per candle close
//   decisions.jsonl the run's decision log, as the daemon writes it
//   report.html     one self-contained page (inline SVG, no external resource of any kind)
//
// Kept out of the CLI (which only parses options) so tests can call it directly.
// Thread-safety: a call touches only its own objects and the files under `out`.

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include <tradingd/core/market_types.hpp>

namespace tradingd::backtest {

struct command_options {
    std::filesystem::path config;      ///< the daemon's config: [paper], [sandbox], [[symbols]]
    std::filesystem::path data;        ///< Binance kline CSV or JSON array (feed::read_kline_file)
    std::string symbol;                ///< one of the config's symbols; empty: the first
    std::optional<timestamp_ms> from;  ///< candles opening at or after this time
    std::optional<timestamp_ms> to;    ///< candles opening before this time
    /// Run at this interval ("1h"), aggregating the data to it; empty: the data's interval,
    /// which must then be the symbol's configured one.
    std::string interval;
    std::optional<double> spread_bps;  ///< intrabar model's spread; default intrabar_model's
    std::filesystem::path out;         ///< created if missing; the five files are overwritten
    bool progress = true;              ///< a progress bar on stderr, only when stderr is a terminal
};

/// Runs the command. Prints a one-paragraph summary to `out` and problems (and the data gaps)
/// to `err`. Returns the exit code: 0 done, 1 runtime problem (config, data, script, writing),
/// 2 usage problem (unknown symbol, bad interval, empty range, negative spread).
int run_command(const command_options& o, std::ostream& out, std::ostream& err);

}  // namespace tradingd::backtest
