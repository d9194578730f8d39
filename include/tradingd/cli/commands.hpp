#pragma once
// The tradingd command line. Each command returns the process exit code:
//   0 success, 1 a problem was found / the run failed, 2 usage or configuration error.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
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

/// What `tradingd decisions` prints. Times are Unix ms; both bounds are inclusive.
struct decisions_query {
    std::filesystem::path log;  ///< the current decision-log file; its rotated files are read too
    std::optional<std::string> symbol;
    std::optional<std::int64_t> since;
    std::optional<std::int64_t> until;
    std::optional<std::string> action;  ///< matches a record's action or its event name
    bool json = false;                  ///< the matching lines as written, instead of a table
};

/// `tradingd decisions --state-dir DIR [--symbol S] [--since T] [--until T] [--action A] [--json]`:
/// prints the decision log (every file, oldest first). Malformed lines are reported on `err`
/// (file:line) and skipped. Returns 1 when the log does not exist.
int print_decisions(const decisions_query& q, std::ostream& out, std::ostream& err);

/// What `tradingd why` explains.
struct why_query {
    std::filesystem::path log;  ///< the current decision-log file
    std::string symbol;
    std::int64_t at = 0;  ///< Unix ms
    bool json = false;    ///< one JSON object instead of text
};

/// `tradingd why --state-dir DIR --symbol S --at TIME [--json]`: what the runner for S did at the
/// candle containing TIME and why (its state, the function called, what it returned or that it
/// returned nil, the market data and indicators it saw, the script version, what followed).
/// Returns 1 when the log does not exist or holds nothing for S.
int explain_decision(const why_query& q, std::ostream& out, std::ostream& err);

/// A command-line time: ISO-8601 UTC ("2024-01-01T03:35:00Z", "2024-01-01 03:35", optional
/// seconds and fraction, optional Z; a date alone is midnight) or Unix milliseconds. nullopt when
/// malformed.
std::optional<std::int64_t> parse_time(std::string_view text);

/// `tradingd journal --state-dir DIR [--json]`: the state the journal in DIR/journal implies
/// (every runner's phase, position, P&L, ctx, account, script version), read-only. 1 when the
/// journal cannot be read (the message names the file and offset).
int print_journal(const std::filesystem::path& state_dir, bool as_json, std::ostream& out);

/// "30s", "500ms", "2m", "1h", "1d" or a plain number of seconds. nullopt when malformed or <= 0.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace tradingd::cli
