// runner_core::fill_status: the runner's part of GET /status and /metrics.
#include <algorithm>

#include <tradingd/engine/runner_core.hpp>

namespace tradingd::engine {
namespace {

static_assert(status::call_latency_bounds_s.size() ==
                  strategy::lua::latency_bucket_bounds_ns.size(),
              "the status histogram and the VM's latency buckets must have the same bounds");

/// A string assignment that keeps `out`'s buffer (no allocation once it is large enough).
void assign(std::string& out, std::string_view text) {
    out.assign(text.data(), text.size());
}

void fill_latency(const strategy::lua::strategy_stats& live,
                  const strategy::lua::strategy_stats& retired, status::latency_histogram& out) {
    out.count = live.latency_samples + retired.latency_samples;
    out.sum_s = static_cast<double>(live.latency_total_ns + retired.latency_total_ns) * 1e-9;
    for (std::size_t i = 0; i < out.buckets.size(); ++i)
        out.buckets[i] = live.latency_buckets[i] + retired.latency_buckets[i];
}

}  // namespace

void runner_core::fill_status(status::runner_status& out) const {
    assign(out.symbol, cfg_.symbol);
    assign(out.interval, cfg_.interval);
    out.state = strategy::phase_name(machine_.current());
    const auto& pos = machine_.current_position();
    if (pos) {
        if (!out.position) out.position.emplace();
        auto& p = *out.position;
        p.side = strategy::side_name(pos->direction);
        p.quantity = pos->quantity;
        p.entry_price = pos->entry_price;
        p.stop_loss = pos->stop_loss;
        p.take_profit = pos->take_profit;
        p.unrealized_pnl = last_quote_.bid > 0 && last_quote_.ask > 0
                               ? pos->unrealized_pnl(last_quote_.bid, last_quote_.ask)
                               : 0.0;
        p.opened_at = pos->opened_at;
        p.bars_held = pos->bars_held;
    } else {
        out.position.reset();
    }
    // The last traded price we know: the forming candle's close, else the last closed one's.
    const auto forming = window_.forming();
    const auto latest = forming ? forming : window_.latest();
    out.last_price = latest ? latest->close : 0.0;
    out.bid = last_quote_.bid;
    out.ask = last_quote_.ask;
    out.last_event_ts = event_ts_;

    assign(out.script, script_name_);
    assign(out.script_hash, strategy_ ? std::string_view(strategy_->hash()) : std::string_view());
    out.script_loaded = strategy_ != nullptr;
    out.script_reloads = reloads_;
    out.script_reload_failures = reload_failures_;
    assign(out.refused_hash, failed_hash_);
    assign(out.reload_error, reload_error_ ? std::string_view(*reload_error_) : "");
    out.suspended = suspended_;
    assign(out.suspension_reason, suspension_reason_);
    out.retiring = retiring_;
    assign(out.last_error, last_error_);

    out.events = events_;
    out.candles = candles_;
    out.strategy_calls = calls_;
    out.strategy_errors = errors_;
    out.auto_exits = auto_exits_;
    out.trades = machine_.trade_count();
    static const strategy::lua::strategy_stats none;
    const auto& live = strategy_ ? strategy_->stats() : none;
    out.budget_aborts = live.budget_aborts + retired_vm_.budget_aborts;
    out.memory_aborts = live.memory_aborts + retired_vm_.memory_aborts;
    out.lua_memory_bytes = live.memory_used;
    fill_latency(live, retired_vm_, out.call_latency);
    out.risk_refusals.resize(risk_refusals_.size());
    for (std::size_t i = 0; i < risk_refusals_.size(); ++i) {
        assign(out.risk_refusals[i].limit, risk_refusals_[i].limit);
        out.risk_refusals[i].count = risk_refusals_[i].count;
    }

    out.realized_pnl = machine_.realized_pnl();
    out.daily_realized_pnl = risk_.day_pnl(event_ts_);
    out.fees = broker_.fees_paid();
}

}  // namespace tradingd::engine
