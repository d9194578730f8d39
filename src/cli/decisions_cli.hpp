#pragma once
// The `decisions` and `why` subcommands' CLI11 options (kept out of main.cpp). Private to cli.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace tradingd::cli::detail {

/// The options of both subcommands, filled by CLI11 while parsing.
struct decision_command_options {
    CLI::App* decisions = nullptr;
    CLI::App* why = nullptr;
    std::string state_dir;
    std::string log;
    std::string symbol;
    std::string since;
    std::string until;
    std::string action;
    std::string at;
    bool json = false;
};

/// Registers `decisions` and `why` on `app`; `o` must outlive the parse.
void add_decision_commands(CLI::App& app, decision_command_options& o);

/// After parsing: the exit code of the subcommand that was given, or nullopt when neither was.
/// Bad times are usage errors (2) naming the option; a missing state dir is a problem (1).
std::optional<int> run_decision_commands(const decision_command_options& o);

}  // namespace tradingd::cli::detail
