#pragma once
// The daemon's loggers: spdlog to stderr (journald under systemd) by default, plus an optional
// size-rotated file ([daemon] log_file). Every logger the daemon makes is registered with spdlog,
// so a config reload's new log_level reaches all of them.

#include <memory>
#include <string>

#include <tradingd/config/config.hpp>

namespace spdlog {
class logger;
}

namespace tradingd::cli {

/// A logger named `name` writing where the default logger does (registered; made once).
std::shared_ptr<spdlog::logger> named_logger(const std::string& name);

/// Adds the rotating file sink [daemon] log_file describes to the default logger (before any
/// named_logger is made, which copies its sinks). No-op without log_file. Throws
/// spdlog::spdlog_ex when the file cannot be opened (the message names it).
void add_log_file(const config::daemon_config& d);

}  // namespace tradingd::cli
