#pragma once
// The tradingd command line. Each command returns the process exit code:
//   0 success, 1 a problem was found / the run failed, 2 usage or configuration error.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace tradingd::cli {

/// Parses argv and dispatches to a command (CLI11). `tradingd --help` lists them.
int main(int argc, char** argv);

/// `tradingd --config FILE [--duration D]`: runs the daemon until SIGINT/SIGTERM or for D, then
/// prints a per-symbol summary.
int run_daemon(const std::filesystem::path& config_path,
               std::optional<std::chrono::milliseconds> duration);

/// `tradingd check --config FILE`: validates the config and loads every referenced script; prints
/// every problem found.
int check_config(const std::filesystem::path& config_path);

/// `tradingd check --script FILE [--config FILE]`: loads one script the way a reload would (fresh
/// sandboxed VM, top level, on_init, the three required functions) and prints "OK: <file>
/// (version <hash>)" or the error. With a config, its sandbox limits apply and, if a symbol uses
/// the script, that symbol's params; otherwise the defaults and no params.
int check_script(const std::filesystem::path& script_path,
                 const std::filesystem::path& config_path);

/// `tradingd indicators --data FILE --spec LIST`: prints a CSV of the engine's indicator values.
int print_indicators(const std::filesystem::path& data_path, std::string_view spec_list);

/// "30s", "500ms", "2m", "1h", "1d" or a plain number of seconds. nullopt when malformed or <= 0.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace tradingd::cli
