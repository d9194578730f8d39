#pragma once
// standalone_strategy: a strategy script loaded outside a runner, by tools (`tradingd check
// --script`, a sweep's valid(params)): the same sandbox limits and params a runner would give it,
// bound to its own empty window, indicators and ctx, which live exactly as long as it does.
//
// Thread-safety: one thread. Never throws for a script that fails to load: see error().

#include <memory>
#include <optional>
#include <string>

#include <tradingd/config/config.hpp>
#include <tradingd/indicators/indicator_set.hpp>
#include <tradingd/market/market_data_window.hpp>
#include <tradingd/strategy/context.hpp>
#include <tradingd/strategy/lua/lua_strategy.hpp>

namespace spdlog {
class logger;
}

namespace tradingd::engine {

class standalone_strategy {
public:
    /// Loads `symbol.strategy_path` with `symbol.params` under `sandbox`'s limits. `logger`
    /// receives the script's log.* and print output (null: spdlog's default).
    standalone_strategy(const config::symbol_config& symbol, const config::sandbox_config& sandbox,
                        std::shared_ptr<spdlog::logger> logger = nullptr);
    standalone_strategy(const standalone_strategy&) = delete;
    standalone_strategy& operator=(const standalone_strategy&) = delete;

    /// The loaded script; null when it failed to load (error() says why).
    strategy::lua::lua_strategy* get() noexcept { return strategy_.get(); }
    const std::optional<std::string>& error() const noexcept { return error_; }

private:
    market::market_data_window window_;
    indicators::indicator_set indicators_;
    strategy::context ctx_;
    std::unique_ptr<strategy::lua::lua_strategy> strategy_;  // bound to the three above
    std::optional<std::string> error_;
};

}  // namespace tradingd::engine
