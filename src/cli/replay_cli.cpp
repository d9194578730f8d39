#include "replay_cli.hpp"

#include <cmath>
#include <iostream>

#include <tradingd/cli/commands.hpp>

namespace tradingd::cli::detail {
namespace {

namespace fs = std::filesystem;

/// --duration text -> duration; prints a usage error and returns false when malformed.
bool parse_duration_option(const char* command, const std::string& text,
                           std::optional<std::chrono::milliseconds>& out) {
    if (text.empty()) return true;
    out = parse_duration(text);
    if (out) return true;
    std::cerr << "tradingd" << command << ": --duration: cannot parse '" << text
              << "' (expected e.g. 30s, 500ms, 5m, 2h)\n";
    return false;
}

/// --speed text -> speed (0 = no pacing); nullopt when malformed.
std::optional<double> parse_speed(const std::string& text) {
    if (text == "max") return 0.0;
    try {
        std::size_t used = 0;
        const double v = std::stod(text, &used);
        if (used == text.size() && std::isfinite(v) && v >= 0) return v;
    } catch (const std::exception&) {  // not a number: reported by the caller
    }
    return std::nullopt;
}

/// Moves everything a replay writes or reads as state into `dir`, so it never touches the live
/// daemon's files: the journal, the decision log, the kill-switch file; the log file is left
/// out (stderr only).
void use_state_dir(config::daemon_settings& s, const fs::path& dir) {
    s.daemon.state_dir = dir;
    s.daemon.decision_log = dir / "decisions.jsonl";
    s.daemon.log_file.clear();
    s.risk.kill_switch_file = dir / "HALT";
}

int run_replay(const replay_command_options& o) {
    std::optional<std::chrono::milliseconds> duration;
    if (!parse_duration_option(" replay", o.duration, duration)) return 2;
    std::optional<double> speed;
    if (!o.speed.empty()) {
        speed = parse_speed(o.speed);
        if (!speed) {
            std::cerr << "tradingd replay: --speed: expected \"max\", 0 or a number > 0, got '"
                      << o.speed << "'\n";
            return 2;
        }
    }
    const fs::path data = fs::absolute(o.data);
    const fs::path state_dir = o.state_dir.empty() ? fs::path() : fs::absolute(o.state_dir);
    const fs::path record = o.replay_record.empty() ? fs::path() : fs::absolute(o.replay_record);
    return run_daemon_adjusted(o.config, duration, [&](config::daemon_settings& s) {
        s.feed.type = "replay";
        s.feed.replay.data = data;
        if (speed) s.feed.replay.speed = *speed;
        if (!record.empty()) s.feed.record = record;
        if (!state_dir.empty()) use_state_dir(s, state_dir);
        // A replay runs beside the live daemon: no listening port to fight over, and the
        // scripts stay the versions loaded at start (a hot reload mid-replay would change the
        // decisions being reproduced).
        s.http.enabled = false;
        s.daemon.hot_reload = false;
    });
}

}  // namespace

void add_replay_commands(CLI::App& app, CLI::App& run, replay_command_options& o) {
    const char* record_help =
        "Record every market event the runners receive to this file (overrides [feed] record; "
        "docs/recording.md)";
    app.add_option("--record", o.record, record_help);
    run.add_option("--record", o.record, record_help);

    o.replay = app.add_subcommand(
        "replay",
        "Feed a recording back through the runners of a config; writes a fresh decision log");
    o.replay->add_option("-c,--config", o.config, "TOML config file (its symbols and scripts)")
        ->required();
    o.replay->add_option("--data", o.data, "The recording ([feed] record / --record)")
        ->required()
        ->check(CLI::ExistingFile);
    o.replay->add_option("--speed", o.speed,
                         "\"max\" or 0: as fast as the runners go (default: [feed.replay] speed, "
                         "else max); N: the recorded pace N times faster");
    o.replay->add_option("--state-dir", o.state_dir,
                         "Use this (empty or new) directory for the journal, decision log and "
                         "kill-switch file instead of the config's state_dir");
    o.replay->add_option("-d,--duration", o.duration, "Stop after this long");
    o.replay->add_option("--record", o.replay_record, "Record the replayed session too");
}

std::optional<int> run_replay_commands(const replay_command_options& o,
                                       const std::string& config_path,
                                       const std::string& duration_text) {
    if (*o.replay) return run_replay(o);
    if (o.record.empty() || config_path.empty()) return std::nullopt;
    std::optional<std::chrono::milliseconds> duration;
    if (!parse_duration_option("", duration_text, duration)) return 2;
    const fs::path record = fs::absolute(o.record);
    return run_daemon_adjusted(config_path, duration,
                               [&](config::daemon_settings& s) { s.feed.record = record; });
}

}  // namespace tradingd::cli::detail
