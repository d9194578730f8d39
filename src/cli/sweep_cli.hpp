#pragma once
// The `sweep` and `montecarlo` subcommands (kept out of main.cpp). Private to cli.
//
//   tradingd sweep --config F --data PATH --grid "fast=5:30:5,slow=20:100:10" --out DIR
//       every combination backtested in parallel, ranked by --metric -> DIR/sweep.csv
//   tradingd montecarlo --config F --paths N --seed S --out DIR
//       N simulated-feed paths through the runner -> DIR/montecarlo.json
//
// Both draw a progress bar on stderr when it is a terminal (unless --no-progress).

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace tradingd::cli::detail {

/// The options of both subcommands, filled by CLI11 while parsing.
struct sweep_command_options {
    CLI::App* sweep = nullptr;
    CLI::App* montecarlo = nullptr;
    std::string config;
    std::string data;
    std::string symbol;
    std::string grid;
    std::string metric = "net_pnl";
    std::string interval;
    unsigned threads = 0;
    std::string out;
    std::size_t paths = 100;
    std::uint64_t seed = 1;
    std::size_t candles = 1000;
    bool no_progress = false;
};

/// Registers `sweep` and `montecarlo` on `app`; `o` must outlive the parse.
void add_sweep_commands(CLI::App& app, sweep_command_options& o);

/// After parsing: the exit code of the subcommand that was given, or nullopt when neither was.
/// 0 done; 1 a runtime problem (config, data, script, writing); 2 a usage problem (bad grid,
/// unknown metric or symbol, interval mismatch).
std::optional<int> run_sweep_commands(const sweep_command_options& o);

}  // namespace tradingd::cli::detail
