#pragma once
// The `backtest` subcommand's CLI11 options (kept out of main.cpp). Private to cli.
// The command itself is backtest::run_command (include/tradingd/backtest/command.hpp).

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace tradingd::cli::detail {

/// The subcommand's options, filled by CLI11 while parsing.
struct backtest_command_options {
    CLI::App* command = nullptr;
    std::string config;
    std::string data;
    std::string symbol;
    std::string from;
    std::string to;
    std::string interval;
    std::optional<double> spread_bps;
    std::string out;
    bool no_progress = false;
};

/// Registers `backtest` on `app`; `o` must outlive the parse.
void add_backtest_command(CLI::App& app, backtest_command_options& o);

/// After parsing: the exit code of `backtest` when it was given, else nullopt. Bad times are
/// usage errors (2) naming the option.
std::optional<int> run_backtest_command(const backtest_command_options& o);

}  // namespace tradingd::cli::detail
