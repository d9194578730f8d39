#pragma once
// The HTTP endpoints of the running daemon, as an http::handler:
//
//   GET  /healthz              200 {"status":"ok"} | 503 {"status":"unhealthy","problems":[..]}
//   GET  /status               the daemon's state as JSON (status::render_status_json)
//   GET  /metrics              Prometheus text format (status::render_metrics)
//   POST /halt[?flatten=true]  engages the kill switch (and closes every position with flatten,
//                              or when [risk] flatten_on_halt is set)
//   POST /resume               releases the kill switch
//   POST /flatten?symbol=SYM   closes SYM's position at the market
//
// POST endpoints need `Authorization: Bearer <token>` (the [http] token_file's content); without
// a configured token they answer 403. Every error is a JSON body {"error": "..."} with a 4xx/5xx
// status. The handler runs on the HTTP thread: it only reads published snapshots and posts work
// to runners (a flatten is answered 202 and carried out by the runner between two events).

#include <functional>
#include <string>
#include <vector>

#include <tradingd/engine/kill_switch.hpp>
#include <tradingd/http/server.hpp>
#include <tradingd/status/daemon_status.hpp>

namespace tradingd::cli {

struct control_actions {
    engine::kill_switch* kill = nullptr;
    bool flatten_on_halt = false;
    /// Asks every runner to close its position; returns the symbols asked.
    std::function<std::vector<std::string>(const std::string& reason)> flatten_all;
    /// Asks `symbol`'s runner to close its position; false when there is no such symbol.
    std::function<bool(const std::string& symbol, const std::string& reason)> flatten_symbol;
};

struct status_api_options {
    status::health_thresholds thresholds;
    std::string token;  ///< "" disables the control endpoints
};

http::handler make_status_api(std::function<status::daemon_status()> snapshot,
                              control_actions actions, status_api_options options);

/// The bearer token in `file` (surrounding whitespace removed). Throws std::runtime_error naming
/// the file when it cannot be read or is empty.
std::string read_token_file(const std::string& file);

}  // namespace tradingd::cli
