#pragma once
// Parsers of the sections that configure the daemon as a service: [http] (status and control
// server) and the risk limits ([risk], [symbols.risk]). Problems are recorded in the reader's
// problem_list like every other section.

#include <filesystem>

#include <tradingd/config/config.hpp>

#include "toml_reader.hpp"

namespace tradingd::config::detail {

/// [http]; an absent section leaves the server disabled.
http_config parse_http(table_reader t, const std::filesystem::path& base_dir);
/// [risk]; kill_switch_file defaults to <state_dir>/HALT, relative paths are under state_dir.
risk_config parse_risk(table_reader t, const std::filesystem::path& state_dir);
/// [symbols.risk]
symbol_risk_config parse_symbol_risk(table_reader t);

}  // namespace tradingd::config::detail
