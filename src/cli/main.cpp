#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include <tradingd/cli/commands.hpp>

#include "backtest_cli.hpp"
#include "decisions_cli.hpp"
#include "replay_cli.hpp"
#include "sweep_cli.hpp"

#ifndef TRADINGD_VERSION
#define TRADINGD_VERSION "unknown"
#endif

namespace tradingd::cli {
namespace {

/// Logs go to stderr (journald under systemd); stdout is kept for command output (summaries,
/// CSV, check results).
void setup_logging() {
    auto logger = spdlog::stderr_color_mt("tradingd");
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
    spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
    setup_logging();
    CLI::App app{"tradingd: a live trading daemon with sandboxed Lua 5.4 strategies", "tradingd"};
    app.set_version_flag("--version", std::string("tradingd ") + TRADINGD_VERSION);
    app.require_subcommand(0, 1);

    std::string config_path;
    std::string duration_text;
    app.add_option("-c,--config", config_path, "Run the daemon with this TOML config file");
    app.add_option("-d,--duration", duration_text,
                   "Stop after this long (e.g. 30s, 5m, 2h; default: until SIGINT/SIGTERM)");

    // `tradingd run --config F` is the same as `tradingd --config F`.
    auto* run = app.add_subcommand("run", "Run the daemon (same as the top-level options)");
    run->add_option("-c,--config", config_path, "TOML config file")->required();
    run->add_option("-d,--duration", duration_text, "Stop after this long (e.g. 30s, 5m, 2h)");

    auto* check = app.add_subcommand(
        "check", "Validate a config and load every strategy script, or check one script");
    std::string check_config_path;
    std::string check_script_path;
    check->add_option("-c,--config", check_config_path, "Config file to check");
    check
        ->add_option("-s,--script", check_script_path,
                     "Strategy script to check (compile, top level, on_init, required functions); "
                     "with --config, under that config's sandbox limits")
        ->check(CLI::ExistingFile);
    check->callback([&] {
        if (check_config_path.empty() && check_script_path.empty()) {
            throw CLI::ValidationError("check", "needs --config FILE or --script FILE");
        }
    });

    auto* ind = app.add_subcommand(
        "indicators", "Print the engine's indicator values for a kline file (CSV or JSON rows)");
    std::string data_path;
    std::string spec =
        "sma(20),ema(20),rsi(14),macd(12,26,9),bollinger(20,2),atr(14),highest(20),lowest(20),"
        "stddev(20)";
    ind->add_option("--data", data_path, "Binance kline CSV or JSON array of [t,o,h,l,c,v] rows")
        ->required();
    ind->add_option("--spec", spec, "Comma-separated indicators, e.g. \"sma(20),rsi(14)\"")
        ->capture_default_str();

    auto* jcmd = app.add_subcommand(
        "journal", "Print the state the journal implies (read-only; safe while the daemon runs)");
    std::string journal_state_dir;
    bool journal_json = false;
    jcmd->add_option("--state-dir", journal_state_dir, "The daemon's [daemon] state_dir")
        ->required();
    jcmd->add_flag("--json", journal_json, "JSON instead of a table");

    detail::decision_command_options decision_options;
    detail::add_decision_commands(app, decision_options);
    // offline commands: each adds its subcommands here and runs them below
    detail::sweep_command_options sweep_options;
    detail::add_sweep_commands(app, sweep_options);
    detail::replay_command_options replay_options;
    detail::add_replay_commands(app, *run, replay_options);
    detail::backtest_command_options backtest_options;
    detail::add_backtest_command(app, backtest_options);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    if (*check) {
        if (!check_script_path.empty()) return check_script(check_script_path, check_config_path);
        return check_config(check_config_path);
    }
    if (*ind) return print_indicators(data_path, spec);
    if (*jcmd) return print_journal(journal_state_dir, journal_json, std::cout);
    if (auto code = detail::run_decision_commands(decision_options)) return *code;
    // offline commands: run
    if (auto code = detail::run_sweep_commands(sweep_options)) return *code;
    if (auto code = detail::run_replay_commands(replay_options, config_path, duration_text))
        return *code;
    if (auto code = detail::run_backtest_command(backtest_options)) return *code;
    if (config_path.empty()) {
        std::cerr << "tradingd: --config FILE is required (see tradingd --help)\n";
        return 2;
    }
    std::optional<std::chrono::milliseconds> duration;
    if (!duration_text.empty()) {
        duration = parse_duration(duration_text);
        if (!duration) {
            std::cerr << "tradingd: --duration: cannot parse '" << duration_text
                      << "' (expected e.g. 30s, 500ms, 5m, 2h)\n";
            return 2;
        }
    }
    return run_daemon(config_path, duration);
}

}  // namespace tradingd::cli
