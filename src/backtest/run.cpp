// run(): a fresh runner_core fed every candle through the intrabar model, on the calling thread.
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include <tradingd/backtest/backtest.hpp>
#include <tradingd/engine/runner_core.hpp>

namespace tradingd::backtest {

namespace {

/// Builds trades from the runner's "fill" records (an entry fill has no pnl, an exit fill has
/// one: engine/runner_core.cpp) and keeps every record as a decision-log line when asked to.
class trade_recorder final : public engine::decision_sink {
public:
    trade_recorder(run_result& out, bool keep_lines) : out_(out), keep_lines_(keep_lines) {}

    void write(const engine::decision_record& r) noexcept override {
        try {
            if (keep_lines_) out_.decisions.push_back(engine::to_json_line(r));
            if (std::strcmp(r.event, "fill") == 0) on_fill(r);
        } catch (const std::exception&) {
            // Only allocation failures get here; a run that lost records must not look whole.
            lost_ = true;
        }
    }
    /// A record could not be kept (out of memory): the result is incomplete.
    bool lost_records() const noexcept { return lost_; }

private:
    void on_fill(const engine::decision_record& r) {
        if (!r.pnl) {
            open_ = trade{};
            open_->side = r.side != nullptr && std::strcmp(r.side, "sell") == 0 ? "short" : "long";
            open_->quantity = r.quantity.value_or(0);
            open_->entry_price = r.price;
            open_->opened_at = r.ts;
            open_->fees = r.fee.value_or(0);
            return;
        }
        trade t = open_.value_or(trade{});
        t.exit_price = r.price;
        t.closed_at = r.ts;
        t.fees += r.fee.value_or(0);
        t.net_pnl = *r.pnl;
        t.exit_reason = std::string(r.reason);
        out_.trades.push_back(std::move(t));
        open_.reset();
    }

    run_result& out_;
    bool keep_lines_;
    std::optional<trade> open_;
    bool lost_ = false;
};

std::shared_ptr<spdlog::logger> default_logger() {
    auto log = std::make_shared<spdlog::logger>("backtest",
                                                std::make_shared<spdlog::sinks::stderr_sink_mt>());
    log->set_level(spdlog::level::warn);
    return log;
}

/// The open position marked at `price` (the candle's close): cash plus the position's value.
double equity_at(const engine::runner_core& core, double price) noexcept {
    double equity = core.broker().cash();
    if (const auto& pos = core.machine().current_position()) {
        const double value = pos->quantity * price;
        equity += pos->direction == strategy::side::long_side ? value : -value;
    }
    return equity;
}

}  // namespace

run_result run(const config::symbol_config& symbol, const config::sandbox_config& sandbox,
               const config::paper_config& paper, const std::vector<candle>& candles,
               const run_options& options) {
    run_result result;
    trade_recorder recorder(result, options.keep_decisions);
    engine::runner_core core(symbol, sandbox, paper, recorder,
                             options.logger ? options.logger : default_logger());
    if (core.load_error()) {
        throw std::runtime_error("cannot load strategy '" + symbol.strategy_path.string() +
                                 "': " + *core.load_error());
    }
    if (options.keep_equity) result.equity.reserve(candles.size());
    equity_stats stats(paper.starting_cash);
    const auto started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < candles.size(); ++i) {
        const candle& c = candles[i];
        for (const market_event& e : candle_events(c, options.intrabar))
            core.on_event(e);
        const bool in_position = core.machine().current_position().has_value();
        const double equity = equity_at(core, c.close);
        const double dd = stats.add(equity, in_position);
        if (options.keep_equity) result.equity.push_back(equity_point{c.close_time, equity, dd});
        if (options.progress && ((i + 1) % 4096 == 0 || i + 1 == candles.size())) {
            options.progress(i + 1, candles.size());
        }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (recorder.lost_records()) {
        throw std::runtime_error("backtest ran out of memory keeping its decision records");
    }

    summary& s = result.stats;
    s.symbol = symbol.symbol;
    s.script_hash = core.strategy() != nullptr ? core.strategy()->hash() : std::string();
    s.interval_ms = symbol.interval_ms;
    stats.fill(s, symbol.interval_ms);
    fill_trade_stats(s, result.trades);
    s.open_at_end = core.machine().current_position().has_value();
    s.seconds = seconds;
    s.candles_per_s = seconds > 0 ? static_cast<double>(candles.size()) / seconds : 0.0;
    s.strategy_errors = core.summary().strategy_errors;
    return result;
}

}  // namespace tradingd::backtest
