#pragma once
// Recording and replay on the command line (kept out of main.cpp). Private to cli.
//   tradingd [run] --config FILE --record PATH     records the session (overrides [feed] record)
//   tradingd replay --config FILE --data PATH [--speed X] [--state-dir DIR] [--record PATH]
// See docs/recording.md.

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <tradingd/config/config.hpp>

namespace tradingd::cli {

/// Changes applied to the loaded configuration before the daemon uses it (command-line
/// overrides). Must not throw.
using settings_override = std::function<void(config::daemon_settings&)>;

/// run_daemon (commands.hpp) with `adjust` applied to the settings right after they are loaded
/// (defined in run_command.cpp; run_daemon is this with no override).
int run_daemon_adjusted(const std::filesystem::path& config_path,
                        std::optional<std::chrono::milliseconds> duration,
                        const settings_override& adjust);

namespace detail {

/// The options of `replay` and of `--record`, filled by CLI11 while parsing.
struct replay_command_options {
    CLI::App* replay = nullptr;
    std::string record;  ///< --record of the daemon (top level or `run`)
    std::string config;
    std::string data;
    std::string speed;  ///< "max", 0 or a number > 0; empty: [feed.replay] speed
    std::string state_dir;
    std::string duration;
    std::string replay_record;  ///< --record of `replay`
};

/// Registers `replay` on `app` and `--record` on `app` and `run`; `o` must outlive the parse.
void add_replay_commands(CLI::App& app, CLI::App& run, replay_command_options& o);

/// After parsing: the exit code of `replay`, or of the daemon run with `--record`; nullopt when
/// neither was asked for (the caller runs the daemon as usual). `config_path` and
/// `duration_text` are the daemon's own --config and --duration.
std::optional<int> run_replay_commands(const replay_command_options& o,
                                       const std::string& config_path,
                                       const std::string& duration_text);

}  // namespace detail
}  // namespace tradingd::cli
