#pragma once
// Applying a changed config file to the running daemon (SIGHUP, `systemctl reload tradingd`).
//
// The new file is validated whole first; if anything is wrong, nothing changes and every problem
// is logged. Otherwise, per symbol:
//   - changed `strategy`, `params` or `quantity`: a new version is built and swapped in through
//     the hot-reload path (script_reloader::rebuild), so ctx, position and stops carry over;
//   - changed [symbols.risk]: the runner takes the new limits between two events;
//   - removed: the runner retires ([daemon] on_symbol_removed: "keep" manages the open position
//     until it closes, "flatten" closes it at the market); it stays fed meanwhile;
//   - added: a runner starts for it (its script loaded, warm-up history, then live: the
//     simulated feed generates it, the Binance feed opens a connection for its streams);
//   - added back after a removal: the retired runner is reinstated (entries allowed again, a
//     position it kept stays managed), with the new script/params/quantity;
//   - changed `interval`, `window` or `[symbols.sim]`: kept as they are until a restart (warned).
// `log_level` and the [risk] limits apply at once (kill_switch_file at the next restart). Other
// sections ([feed], [sandbox], [paper], [engine], the
// daemon's paths and hot-reload settings) take effect at the next restart (warned).
//
// Main thread only (the event loop).

#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/engine/risk.hpp>
#include <tradingd/engine/symbol_runner.hpp>
#include <tradingd/reload/script_reloader.hpp>

namespace tradingd::cli {

struct running_daemon {
    std::filesystem::path config_path;
    config::daemon_settings settings;  ///< the configuration in force
    std::vector<std::unique_ptr<engine::symbol_runner>>* runners = nullptr;
    reload::script_reloader* reloader = nullptr;
    engine::risk_book* risk = nullptr;  ///< takes a changed [risk] section
    bool can_add_symbols = false;       ///< the feed can start a symbol while running
    /// Starts a runner for a symbol the new config adds (feed, reloader, watchdog, thread).
    std::function<void(const config::symbol_config&)> add_symbol;
    /// Symbols removed by an earlier reload whose runners still run (retired): a config that
    /// adds one back reinstates its runner instead of starting a second one.
    std::vector<config::symbol_config> retired;
};

/// Re-reads `d.config_path` and applies it as described above. Returns false when the new file
/// was refused (the old configuration stays in force).
bool reload_config(running_daemon& d);

}  // namespace tradingd::cli
