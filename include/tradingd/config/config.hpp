#pragma once
// The daemon's configuration: plain validated structs loaded from TOML (toml++ stays inside
// src/config). See config/prod.toml for the documented template and docs/configuration.md.
//
// Relative paths in the file are resolved against the directory of the config file, so a config
// works the same from any working directory.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tradingd/core/market_types.hpp>
#include <tradingd/core/scalar.hpp>

namespace tradingd::config {

struct daemon_config {
    std::string log_level = "info";        ///< trace, debug, info, warn, error, critical, off
    std::filesystem::path state_dir;       ///< required
    std::filesystem::path decision_log;    ///< default: <state_dir>/decisions.jsonl
    std::filesystem::path strategies_dir;  ///< required; `strategy = "x"` means <dir>/x.lua
    /// Watch strategies_dir (inotify) and reload a script when it is written, renamed into place
    /// or deleted (docs/configuration.md, "Hot reload").
    bool hot_reload = true;
    /// Quiet time after a script's last file event before it is reloaded (0..10000 ms).
    std::int64_t reload_debounce_ms = 100;
    /// false (default): a symbol whose script file does not exist is a config error. true: the
    /// symbol starts without a strategy (suspended, its positions protected) and picks the
    /// script up when the file appears (needs hot_reload).
    bool allow_missing_scripts = false;
    /// What a config reload (SIGHUP) does to the open position of a symbol it removes: "keep"
    /// (default: no new entries; the position stays managed by the strategy and the auto-exit
    /// until it closes, then the runner stops) or "flatten" (closed at the market right away).
    std::string on_symbol_removed = "keep";
    /// The decision log rotates when it reaches this size: decisions.jsonl is renamed to
    /// decisions-<UTC time>.jsonl and a new one started (1..100000 MiB).
    std::int64_t decision_log_max_mb = 64;
    /// Rotated decision-log files older than this are deleted (days; 0 = keep forever).
    std::int64_t decision_log_keep_days = 30;
    /// Optional log file written in addition to stderr (journald), rotated at log_file_max_mb
    /// keeping log_file_count files. Empty: stderr only.
    std::filesystem::path log_file;
    std::int64_t log_file_max_mb = 64;  ///< 1..100000
    std::int32_t log_file_count = 5;    ///< rotated files kept, 1..1000

    bool operator==(const daemon_config&) const = default;
};

struct sim_feed_config {
    std::uint64_t seed = 1;
    /// Pace: 1 = real time, 60 = sixty times faster; 0 = as fast as possible
    /// (`speed = "max"` in TOML, or a number > 0).
    double speed = 1;
    std::int32_t ticks_per_candle = 20;       ///< quotes per candle (>= 1)
    std::int32_t warmup_candles = 0;          ///< history generated at start, not traded on
    timestamp_ms start_time = 1704067200000;  ///< first candle's open time (2024-01-01T00:00Z)

    bool operator==(const sim_feed_config&) const = default;
};

/// The live Binance Spot feed ([feed.binance]): one combined-stream WebSocket per shard
/// carrying every symbol's <symbol>@kline_<interval> and <symbol>@bookTicker, REST klines for
/// warm-up and gap repair. Durations are milliseconds. See docs/configuration.md.
struct binance_feed_config {
    /// WebSocket base; "/stream?streams=..." is appended. Also wss://data-stream.binance.vision
    /// (market data only) or the testnet's wss://stream.testnet.binance.vision.
    std::string ws_url = "wss://stream.binance.com:9443";
    /// REST base for /api/v3/klines. Also https://data-api.binance.vision (market data only) or
    /// the testnet's https://testnet.binance.vision.
    std::string rest_url = "https://api.binance.com";
    /// PEM file of CAs to trust instead of the system store (tests, private proxies). Peer and
    /// host name verification stay on either way.
    std::filesystem::path ca_file;
    std::int32_t warmup_candles = 500;  ///< closed candles fetched at start (capped by window)
    std::int64_t connect_timeout_ms = 10'000;  ///< resolve + TCP + TLS + WebSocket handshakes
    /// No frame of any kind for this long: the peer is dead. Keep-alive pings go out at half of
    /// it (each counts toward Binance's 5 messages/s).
    std::int64_t idle_timeout_ms = 30'000;
    /// No market-data frame for this long (pings and pongs don't count): the connection is
    /// stalled and is replaced.
    std::int64_t data_timeout_ms = 30'000;
    /// Connections are replaced make-before-break after this long (Binance cuts at 24 h).
    std::int64_t rotate_after_ms = 23 * 3'600'000 + 30 * 60'000;
    std::int64_t reconnect_initial_ms = 1'000;  ///< backoff: first delay (before jitter)
    std::int64_t reconnect_max_ms = 60'000;     ///< backoff cap
    std::int32_t max_streams_per_connection = 1024;
    std::int64_t rest_timeout_ms = 10'000;    ///< one REST request, connect to last byte
    std::int32_t rest_attempts = 5;           ///< tries per REST request (429/418/5xx/network)
    std::size_t max_message_bytes = 1 << 20;  ///< larger frames fail the read (then reconnect)

    bool operator==(const binance_feed_config&) const = default;
};

/// [feed.replay]: feeds a recording ([feed] record) back through the runners (docs/recording.md).
struct replay_feed_config {
    std::filesystem::path data;  ///< the recording; required when [feed] type = "replay"
    /// Pace: 0 = as fast as the runners accept (default; `speed = "max"` or 0 in TOML); N > 0 =
    /// the recorded receive times, N times faster.
    double speed = 0;

    bool operator==(const replay_feed_config&) const = default;
};

struct feed_config {
    std::string type = "sim";  ///< "sim", "binance" or "replay"
    sim_feed_config sim;
    binance_feed_config binance;
    replay_feed_config replay;
    /// When set, every market event the runners accept is also written to this file
    /// (docs/recording.md). Empty: no recording.
    std::filesystem::path record;

    bool operator==(const feed_config&) const = default;
};

/// Per-symbol parameters of the simulated feed's geometric Brownian motion.
struct sim_symbol_config {
    double start_price = 100;  ///< > 0
    double drift = 0;          ///< annualised, e.g. 0.05
    double volatility = 0.5;   ///< annualised, >= 0
    double spread_bps = 2;     ///< bid/ask spread in basis points of the mid, >= 0

    bool operator==(const sim_symbol_config&) const = default;
};

/// [symbols.risk]: one symbol's limits. 0 means "no limit".
struct symbol_risk_config {
    double max_position_quantity = 0;
    double max_position_notional = 0;  ///< quantity x entry price
    double max_daily_loss = 0;         ///< this symbol's realised loss in one UTC day
    std::int32_t max_orders_per_minute = 0;
    std::int64_t cooldown_after_exit_s = 0;  ///< no entry this long after an exit (market time)

    bool operator==(const symbol_risk_config&) const = default;
};

struct symbol_config {
    std::string symbol;                   ///< e.g. "BTCUSDT" (upper case letters and digits)
    std::string strategy;                 ///< strategy name, e.g. "sma_cross"
    std::filesystem::path strategy_path;  ///< <strategies_dir>/<strategy>.lua
    std::string interval = "1m";
    std::int64_t interval_ms = 60'000;
    std::size_t window = 500;  ///< closed candles kept (>= 1)
    double quantity = 0;       ///< order quantity when the script gives none (> 0)
    named_scalars params;      ///< [symbols.params] -> Lua `params`
    sim_symbol_config sim;
    symbol_risk_config risk;

    bool operator==(const symbol_config&) const = default;
};

struct paper_config {
    double fee_bps = 10;      ///< taker fee, basis points of notional, >= 0
    double slippage_bps = 0;  ///< adverse slippage on every fill, >= 0
    double starting_cash = 10'000;

    bool operator==(const paper_config&) const = default;
};

struct sandbox_config {
    std::size_t memory_limit_mb = 64;
    std::uint64_t instruction_budget = 1'000'000;
    std::int64_t time_limit_ms = 250;
    std::int32_t max_consecutive_failures = 5;  ///< then the strategy is suspended
    /// One event (one callback, including C functions the hook cannot interrupt) running this
    /// long marks the runner wedged: entries blocked, strategy suspended. > time_limit_ms.
    std::int64_t wedge_after_ms = 2'000;
    /// Still in that event after this long: the daemon exits (code 70) so systemd restarts it.
    /// > wedge_after_ms.
    std::int64_t wedge_exit_after_ms = 15'000;

    bool operator==(const sandbox_config&) const = default;
};

struct engine_config {
    std::size_t queue_capacity = 4096;  ///< events per runner queue (power of two not required)

    bool operator==(const engine_config&) const = default;
};

/// [journal]: the durable record of every state change (docs/journal.md), in
/// <state_dir>/journal/.
struct journal_config {
    /// "fsync": every record reaches the disk (fdatasync) before the change it records takes
    /// effect outside its runner (default; what live trading needs). "group": records are written
    /// at once (a killed process loses nothing) and synced every group_commit_ms (a power loss
    /// can lose that much).
    std::string durability = "fsync";
    std::int64_t group_commit_ms = 5;  ///< 1..10000
    /// A snapshot of every runner's state is written after this many records, and the journal
    /// before it is deleted: restart time stays bounded (1000..100000000).
    std::int64_t snapshot_every = 50'000;
    /// Journal segments are preallocated at this size, so a full disk shows when a segment is
    /// created, not halfway through a record (1..4096 MiB).
    std::int64_t segment_mb = 64;

    bool operator==(const journal_config&) const = default;
};

/// [http]: the status and control server. Off unless the section is present.
struct http_config {
    bool enabled = false;               ///< true when [http] is present, unless `enabled = false`
    std::string address = "127.0.0.1";  ///< from `listen = "host:port"`
    std::uint16_t port = 9180;          ///< 0: an ephemeral port (logged at start)
    bool allow_non_loopback = false;    ///< a non-loopback address needs this
    /// Bearer token for POST /halt, /resume, /flatten; empty: control endpoints disabled. The
    /// file must not be readable by group or others (checked when the config is loaded).
    std::filesystem::path token_file;
    std::int64_t request_timeout_ms = 10'000;
    std::int64_t idle_timeout_ms = 30'000;
    std::int32_t max_connections = 64;
    /// /healthz reports a runner stale when it processed no event for this long (wall time).
    std::int64_t stale_after_ms = 120'000;

    bool operator==(const http_config&) const = default;
};

/// [risk]: limits over all symbols, and the kill switch. 0 means "no limit" everywhere.
struct risk_config {
    std::int32_t max_open_positions = 0;
    /// Realised loss (net of fees) over all symbols in one UTC day at which new entries stop for
    /// the rest of that day (quote currency, >= 0).
    double max_daily_loss = 0;
    std::int32_t max_orders_per_minute = 0;  ///< over all symbols, market time
    /// While this file exists no new position is opened (default <state_dir>/HALT).
    std::filesystem::path kill_switch_file;
    /// Engaging the kill switch also closes every open position at the market.
    bool flatten_on_halt = false;

    bool operator==(const risk_config&) const = default;
};

struct daemon_settings {
    std::filesystem::path source;  ///< the file it was loaded from
    daemon_config daemon;
    feed_config feed;
    paper_config paper;
    sandbox_config sandbox;
    engine_config engine;
    journal_config journal;
    http_config http;
    risk_config risk;
    std::vector<symbol_config> symbols;  ///< at least one

    bool operator==(const daemon_settings&) const = default;
};

/// Every problem found in a config file, one per line, each naming file, key and line:
/// "config/sim.toml:12:1: symbols[0].interval: unsupported interval '7m' (expected one of ...)".
class config_error : public std::runtime_error {
public:
    config_error(const std::string& what, std::vector<std::string> problems)
        : std::runtime_error(what), problems_(std::move(problems)) {}
    const std::vector<std::string>& problems() const noexcept { return problems_; }

private:
    std::vector<std::string> problems_;
};

/// Parses and validates a config file. Collects all problems (syntax error, unknown key, wrong
/// type, missing required key, out-of-range value, duplicate symbol, missing strategy file) and
/// throws one config_error listing them.
daemon_settings load_config(const std::filesystem::path& path);
/// Same, from text (for tests); `origin` names the file in messages and anchors relative paths.
daemon_settings parse_config(std::string_view text, const std::filesystem::path& origin);

}  // namespace tradingd::config
