#include "backtest_cli.hpp"

#include <iostream>

#include <tradingd/backtest/command.hpp>
#include <tradingd/cli/commands.hpp>

namespace tradingd::cli::detail {
namespace {

constexpr const char* time_help = "ISO-8601 UTC (2021-01-01, 2021-01-01T00:00:00Z) or Unix ms";

/// Parses a time option; prints a usage error naming the option when malformed.
bool parse_time_option(const char* option, const std::string& text,
                       std::optional<std::int64_t>& out) {
    if (text.empty()) return true;
    out = parse_time(text);
    if (out) return true;
    std::cerr << "tradingd backtest: " << option << ": cannot parse '" << text << "' (expected "
              << time_help << ")\n";
    return false;
}

}  // namespace

void add_backtest_command(CLI::App& app, backtest_command_options& o) {
    o.command = app.add_subcommand(
        "backtest",
        "Run a symbol's strategy over historical candles with the daemon's runner code; writes "
        "summary.json, trades.csv, equity.csv, decisions.jsonl and report.html");
    auto* cmd = o.command;
    cmd->add_option("--config", o.config, "The daemon's config ([paper], [sandbox], [[symbols]])")
        ->required();
    cmd->add_option("--data", o.data,
                    "Candles: Binance kline CSV, a JSON array of rows, or a recording (--record)")
        ->required();
    cmd->add_option("--symbol", o.symbol, "The config's symbol to run (default: the first)");
    cmd->add_option("--from", o.from, std::string("First candle's open time: ") + time_help);
    cmd->add_option("--to", o.to, "Only candles opening before this time");
    cmd->add_option("--interval", o.interval,
                    "Run at this interval (1h, 4h, ...), aggregating the data to it");
    cmd->add_option("--spread-bps", o.spread_bps,
                    "Bid/ask spread of the intrabar model, basis points (default 2)");
    cmd->add_option("--out", o.out, "Output directory (created)")->required();
    cmd->add_flag("--no-progress", o.no_progress, "No progress bar even on a terminal");
}

std::optional<int> run_backtest_command(const backtest_command_options& o) {
    if (o.command == nullptr || !*o.command) return std::nullopt;
    backtest::command_options c;
    if (!parse_time_option("--from", o.from, c.from) || !parse_time_option("--to", o.to, c.to)) {
        return 2;
    }
    c.config = o.config;
    c.data = o.data;
    c.symbol = o.symbol;
    c.interval = o.interval;
    c.spread_bps = o.spread_bps;
    c.out = o.out;
    c.progress = !o.no_progress;
    return backtest::run_command(c, std::cout, std::cerr);
}

}  // namespace tradingd::cli::detail
