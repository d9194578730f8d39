#include "decisions_cli.hpp"

#include <iostream>

#include <tradingd/cli/commands.hpp>

namespace tradingd::cli::detail {
namespace {

constexpr const char* time_help =
    "ISO-8601 UTC (2024-01-01T03:35:00Z, 2024-01-01 03:35, 2024-01-01) or Unix ms";

void add_log_options(CLI::App& cmd, decision_command_options& o) {
    cmd.add_option("--state-dir", o.state_dir,
                   "The daemon's state_dir; the log is <state-dir>/decisions.jsonl");
    cmd.add_option("--log", o.log,
                   "The decision log file, when [daemon] decision_log moved it elsewhere");
    cmd.callback([&cmd, &o] {
        if (o.state_dir.empty() && o.log.empty()) {
            throw CLI::ValidationError(cmd.get_name(), "needs --state-dir DIR or --log FILE");
        }
    });
}

/// Parses a time option; prints a usage error naming the option when malformed.
bool parse_time_option(const char* command, const char* option, const std::string& text,
                       std::optional<std::int64_t>& out) {
    if (text.empty()) return true;
    out = parse_time(text);
    if (out) return true;
    std::cerr << "tradingd " << command << ": " << option << ": cannot parse '" << text
              << "' (expected " << time_help << ")\n";
    return false;
}

/// The current log file, or nullopt (reported) when the state dir does not exist.
std::optional<std::filesystem::path> log_path(const char* command,
                                              const decision_command_options& o) {
    if (!o.log.empty()) return std::filesystem::path(o.log);
    std::error_code ec;
    if (!std::filesystem::is_directory(o.state_dir, ec)) {
        std::cerr << "tradingd " << command << ": no such state directory '" << o.state_dir
                  << "'\n";
        return std::nullopt;
    }
    return std::filesystem::path(o.state_dir) / "decisions.jsonl";
}

}  // namespace

void add_decision_commands(CLI::App& app, decision_command_options& o) {
    o.decisions = app.add_subcommand(
        "decisions", "Print the decision log (every rotated file too) as a table or JSON lines");
    add_log_options(*o.decisions, o);
    o.decisions->add_option("--symbol", o.symbol, "Only this symbol");
    o.decisions->add_option("--since", o.since, std::string("From this time: ") + time_help);
    o.decisions->add_option("--until", o.until, std::string("Up to this time (inclusive)"));
    o.decisions->add_option("--action", o.action,
                            "Only records with this action or event (enter_long, fill, error...)");
    o.decisions->add_flag("--json", o.json, "Print the matching lines as JSON lines");

    o.why = app.add_subcommand(
        "why", "Explain what a symbol's runner did at a time: state, call, result, data seen");
    add_log_options(*o.why, o);
    o.why->add_option("--symbol", o.symbol, "The symbol")->required();
    o.why->add_option("--at", o.at, std::string("The time: ") + time_help)->required();
    o.why->add_flag("--json", o.json, "Print one JSON object");
}

std::optional<int> run_decision_commands(const decision_command_options& o) {
    if (o.decisions != nullptr && *o.decisions) {
        decisions_query q;
        if (!parse_time_option("decisions", "--since", o.since, q.since) ||
            !parse_time_option("decisions", "--until", o.until, q.until)) {
            return 2;
        }
        const auto log = log_path("decisions", o);
        if (!log) return 1;
        q.log = *log;
        if (!o.symbol.empty()) q.symbol = o.symbol;
        if (!o.action.empty()) q.action = o.action;
        q.json = o.json;
        return print_decisions(q, std::cout, std::cerr);
    }
    if (o.why != nullptr && *o.why) {
        std::optional<std::int64_t> at;
        if (!parse_time_option("why", "--at", o.at, at)) return 2;
        const auto log = log_path("why", o);
        if (!log) return 1;
        why_query q;
        q.log = *log;
        q.symbol = o.symbol;
        q.at = *at;
        q.json = o.json;
        return explain_decision(q, std::cout, std::cerr);
    }
    return std::nullopt;
}

}  // namespace tradingd::cli::detail
