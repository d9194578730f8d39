#pragma once
// daemon_status: a point-in-time picture of the running daemon, and what the HTTP status server
// makes of it (/healthz, /status, /metrics).
//
// The daemon assembles a daemon_status from what each component publishes (every runner
// publishes its own runner_status from its own thread; the feed, journal and risk book expose
// thread-safe snapshots), then the pure functions below render it. Nothing here touches a
// runner: rendering is a function of the snapshot alone, so it is tested without a daemon.
//
// Times: `*_ts` are market times (ms since the Unix epoch, from the data); `*_wall_ms` are
// system_clock ms since the epoch at which something happened in this process; ages are
// computed against daemon_status::now_wall_ms.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tradingd/core/market_types.hpp>

namespace tradingd::status {

/// Upper bounds (seconds) of the strategy call latency histogram buckets; +Inf is implicit.
inline constexpr std::array<double, 12> call_latency_bounds_s = {
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2, 0.1, 1.0};

/// Strategy call latencies. Calls are timed by sampling (one in 16, plus every call long enough
/// for the count hook to fire), so `count` is the number of timed calls, not of calls.
struct latency_histogram {
    /// Non-cumulative: buckets[i] counts timed calls with latency <= call_latency_bounds_s[i]
    /// and > the previous bound. Calls above the last bound are only in `count`.
    std::array<std::uint64_t, call_latency_bounds_s.size()> buckets{};
    std::uint64_t count = 0;
    double sum_s = 0;
};

struct position_status {
    std::string side;  ///< "long" or "short"
    double quantity = 0;
    double entry_price = 0;
    std::optional<double> stop_loss;
    std::optional<double> take_profit;
    double unrealized_pnl = 0;  ///< at the last quote, before exit fees
    timestamp_ms opened_at = 0;
    std::int64_t bars_held = 0;
};

/// Refusals of strategy actions by a risk limit, per limit name (e.g. "max_position_notional").
struct risk_refusal_count {
    std::string limit;
    std::uint64_t count = 0;
};

/// One symbol's runner, as it published itself.
struct runner_status {
    std::string symbol;
    std::string interval;        ///< "1m"
    std::string state = "Idle";  ///< "Idle", "Analyzing", "InPosition"
    std::optional<position_status> position;
    double last_price = 0;  ///< last trade/close price seen (0: none yet)
    double bid = 0;
    double ask = 0;
    timestamp_ms last_event_ts = 0;       ///< market time of the last event (0: none yet)
    std::int64_t last_event_wall_ms = 0;  ///< when the runner processed it (0: none yet)
    std::int64_t published_wall_ms = 0;   ///< when this status was published

    std::string script;       ///< file name, e.g. "sma_cross.lua"
    std::string script_hash;  ///< running version ("" when none loaded)
    bool script_loaded = false;
    std::uint64_t script_reloads = 0;
    std::uint64_t script_reload_failures = 0;
    std::string refused_hash;  ///< last refused version, until a good one is installed
    std::string reload_error;  ///< why it was refused

    bool suspended = false;
    std::string suspension_reason;
    bool wedged = false;     ///< flagged by the watchdog (stuck in one event)
    bool retiring = false;   ///< removed from the config
    std::string last_error;  ///< last strategy error message ("" when none)

    std::uint64_t events = 0;
    std::uint64_t events_dropped = 0;  ///< dropped while wedged with a full queue
    std::uint64_t candles = 0;
    std::uint64_t strategy_calls = 0;
    std::uint64_t strategy_errors = 0;
    std::uint64_t budget_aborts = 0;
    std::uint64_t memory_aborts = 0;
    std::uint64_t auto_exits = 0;
    std::uint64_t trades = 0;  ///< closed round trips
    std::size_t lua_memory_bytes = 0;
    latency_histogram call_latency;
    std::vector<risk_refusal_count> risk_refusals;

    double realized_pnl = 0;        ///< net of fees, since the account opened
    double daily_realized_pnl = 0;  ///< net of fees, UTC day of the last event
    double fees = 0;
};

/// One market-data connection (Binance: a WebSocket shard).
struct connection_status {
    std::string name;   ///< "ws#0"
    std::string state;  ///< "connecting", "open", "backoff", "stopped"
    std::uint64_t reconnects = 0;
    std::int64_t last_message_age_ms = -1;  ///< -1 before the first message
    std::uint64_t messages = 0;
    std::string last_error;
};

struct feed_status {
    std::string type;  ///< "sim" or "binance"
    bool running = false;
    std::vector<connection_status> connections;  ///< empty for the simulated feed
    /// Per symbol feed state for feeds that have one (Binance: "warming", "live", "stale", ...).
    std::vector<std::pair<std::string, std::string>> symbol_states;
};

struct journal_status {
    bool healthy = true;
    std::string failure;           ///< why it stopped accepting records ("" while healthy)
    std::uint64_t appended = 0;    ///< records appended since start
    std::uint64_t last_seq = 0;    ///< newest record's sequence number
    std::uint64_t synced_seq = 0;  ///< newest record known to be on disk
};

struct risk_status {
    bool halted = false;      ///< kill switch engaged
    std::string halt_reason;  ///< who/why, e.g. "SIGUSR1 at 2026-..."; "" when not halted
    std::int64_t open_positions = 0;
    double daily_realized_pnl = 0;  ///< all symbols, UTC day
    std::uint64_t orders_last_minute = 0;
};

struct daemon_status {
    std::string version;           ///< "0.7.0"
    std::int64_t now_wall_ms = 0;  ///< when the snapshot was assembled
    double uptime_s = 0;
    std::string feed_description;
    std::vector<runner_status> runners;
    feed_status feed;
    journal_status journal;
    risk_status risk;
    std::uint64_t config_reloads = 0;
    std::uint64_t config_reload_failures = 0;
};

/// When a runner or the feed counts as unhealthy.
struct health_thresholds {
    /// A runner whose last event is older than this (wall time) is stale. 0: not checked.
    std::int64_t max_event_age_ms = 120'000;
    /// A feed connection without a message for this long is stale. 0: not checked.
    std::int64_t max_message_age_ms = 60'000;
};

struct health {
    bool ok = true;
    std::vector<std::string> problems;  ///< one line each, naming the symbol/connection
};

/// ok unless: a runner is wedged, suspended, has no script loaded or is stale; the feed is not
/// running, a connection is not "open" or is stale; the journal is unhealthy. Halting (the kill
/// switch) is deliberate and does not make the daemon unhealthy.
health evaluate_health(const daemon_status& s, const health_thresholds& t);

/// GET /healthz body: {"status":"ok"} or {"status":"unhealthy","problems":[...]}.
std::string render_health_json(const health& h);
/// GET /status body (JSON object; see docs/operations.md for the fields).
std::string render_status_json(const daemon_status& s);
/// GET /metrics body: Prometheus text exposition format 0.0.4.
std::string render_metrics(const daemon_status& s);

}  // namespace tradingd::status
