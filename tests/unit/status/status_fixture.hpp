#pragma once
// A hand-built daemon snapshot shared by the status tests: two runners (BTCUSDT long with stop
// and target; ETHUSDT short, suspended, no stop), a Binance-style feed with one connection in
// backoff, a healthy journal that is 10 records behind on fsync.

#include <cstdint>
#include <string>

#include <tradingd/status/daemon_status.hpp>

namespace tradingd::status::testing {

/// 2026-01-01T00:00:05.250Z
inline constexpr std::int64_t fixture_now_ms = 1'767'225'600'000 + 5'250;

inline runner_status btc_runner() {
    runner_status r;
    r.symbol = "BTCUSDT";
    r.interval = "1m";
    r.state = "InPosition";
    r.position =
        position_status{"long", 0.5, 42000.0, 41000.0, 44000.0, 125.5, 1'767'225'000'000, 3};
    r.last_price = 42251.0;
    r.bid = 42250.0;
    r.ask = 42252.0;
    r.last_event_ts = 1'767'225'604'000;
    r.last_event_wall_ms = fixture_now_ms - 1'500;
    r.published_wall_ms = fixture_now_ms - 1'000;
    r.script = "sma_cross.lua";
    r.script_hash = "abc123";
    r.script_loaded = true;
    r.script_reloads = 2;
    r.script_reload_failures = 1;
    r.refused_hash = "def456";
    r.reload_error = "syntax error near 'end'";
    r.events = 1000;
    r.events_dropped = 4;
    r.candles = 60;
    r.strategy_calls = 1060;
    r.strategy_errors = 5;
    r.budget_aborts = 1;
    r.memory_aborts = 2;
    r.auto_exits = 3;
    r.trades = 6;
    r.lua_memory_bytes = 65536;
    // Non-cumulative: 2 <= 1us, 3 in (1us, 2.5us], 1 in (5us, 10us], 1 above 1 s (count only).
    r.call_latency.buckets = {2, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    r.call_latency.count = 7;
    r.call_latency.sum_s = 1.5;
    r.risk_refusals = {{"max_position_notional", 4}, {"max_orders_per_minute", 1}};
    r.realized_pnl = 10.25;
    r.daily_realized_pnl = 3.5;
    r.fees = 1.75;
    return r;
}

inline runner_status eth_runner() {
    runner_status r;
    r.symbol = "ETHUSDT";
    r.interval = "5m";
    r.state = "InPosition";
    r.position = position_status{"short",           2.0, 2500.0, std::nullopt, std::nullopt, -12.0,
                                 1'767'225'100'000, 7};
    r.last_price = 2506.0;
    r.last_event_wall_ms = fixture_now_ms - 2'000;
    r.script = "rsi.lua";
    r.script_hash = "0badf00d";
    r.script_loaded = true;
    r.suspended = true;
    r.suspension_reason = "budget exceeded 3 times";
    r.last_error = "rsi.lua:12: instruction budget exceeded";
    r.realized_pnl = -4.0;
    r.fees = 0.5;
    return r;
}

inline daemon_status fixture_status() {
    daemon_status s;
    s.version = "0.7.0";
    s.now_wall_ms = fixture_now_ms;
    s.uptime_s = 3600.5;
    s.feed_description = "binance spot, 2 streams";
    s.runners = {btc_runner(), eth_runner()};
    s.feed.type = "binance";
    s.feed.running = true;
    s.feed.connections = {{"ws#0", "open", 0, 250, 1000, ""},
                          {"ws#1", "backoff", 3, 30'000, 400, "connection reset by peer"}};
    s.feed.symbol_states = {{"BTCUSDT", "live"}, {"ETHUSDT", "stale"}};
    s.journal.appended = 500;
    s.journal.last_seq = 1500;
    s.journal.synced_seq = 1490;
    s.risk.open_positions = 2;
    s.risk.daily_realized_pnl = 3.5;
    s.risk.orders_last_minute = 2;
    s.config_reloads = 3;
    s.config_reload_failures = 1;
    return s;
}

/// A snapshot with nothing wrong in it (for tests that introduce exactly one problem).
inline daemon_status healthy_status() {
    daemon_status s = fixture_status();
    s.runners[1].suspended = false;
    s.runners[1].suspension_reason.clear();
    s.feed.connections[1].state = "open";
    s.feed.connections[1].last_message_age_ms = 100;
    return s;
}

}  // namespace tradingd::status::testing
