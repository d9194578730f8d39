#include <algorithm>

#include <tradingd/engine/runner_core.hpp>
#include <tradingd/engine/standalone_strategy.hpp>

namespace tradingd::engine {

standalone_strategy::standalone_strategy(const config::symbol_config& symbol,
                                         const config::sandbox_config& sandbox,
                                         std::shared_ptr<spdlog::logger> logger)
    : window_(std::max<std::size_t>(symbol.window, 1)), indicators_(window_) {
    strategy::lua::strategy_binding b;
    b.symbol = symbol.symbol;
    b.interval = symbol.interval;
    b.indicators = &indicators_;
    b.ctx = &ctx_;
    b.params = symbol.params;
    b.logger = std::move(logger);
    auto loaded = strategy::lua::lua_strategy::load_file(symbol.strategy_path, std::move(b),
                                                         to_limits(sandbox));
    if (loaded) {
        strategy_ = std::move(loaded).value();
    } else {
        error_ = loaded.error_message();
    }
}

}  // namespace tradingd::engine
