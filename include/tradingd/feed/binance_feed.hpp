#pragma once
// The live Binance Spot feed: WebSocket market streams + REST klines, delivering to runners
// every closed candle exactly once and in order, plus candle updates and best bid/ask.
//
// Threads: one network thread runs every connection (Asio); it never blocks, so pings are
// always answered (RELIABILITY.md §2.3). One REST worker thread does warm-up and gap repair
// (blocking HTTPS with deadlines) and posts the candles back to the network thread. Runners are
// fed with event_sink::offer(): when a runner's queue is full its events wait in a per-symbol
// outbox where quotes and candle updates are coalesced (only the latest is kept) and closed
// candles are never dropped, so a slow strategy costs memory bounded by one candle per
// interval, never the connection.
//
// Per symbol: warm-up (the most recent closed candles over REST, delivered as warm-up events)
// -> live. A detected gap (open times not contiguous), and every reconnect, switch the symbol
// to backfilling: live klines are held, the missing closed candles are fetched over REST and
// delivered, then the held klines are replayed (duplicates dropped). If the fetch fails the
// symbol is marked stale (logged; quotes are withheld from its runner so nothing acts on a
// stale picture) and the fetch is retried with backoff. A symbol REST rejects as invalid
// (-1121) is disabled with an error; the others continue.
//
// Per connection (streams sharded at max_streams_per_connection): reconnect with exponential
// backoff + full jitter (binance/backoff.hpp); Beast keep-alive pings and idle timeout (dead
// peer); a data watchdog (no market data for data_timeout_ms while pings still flow) replaces
// the connection; serverShutdown and the rotate_after_ms age replace it make-before-break (the
// new one opens before the old one closes).
//
// Thread-safety: start/stop from one thread; stats() and add_symbol() from any thread.

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/core/event_sink.hpp>

namespace tradingd::feed {

struct connection_stats {
    std::string name;   ///< "ws#0"
    std::string state;  ///< "connecting", "open", "backoff", "stopped"
    std::uint64_t reconnects = 0;
    std::int64_t last_message_age_ms = -1;  ///< -1 before the first message
    double messages_per_s = 0;              ///< over the last stats period
    std::uint64_t messages = 0;
    std::uint64_t parse_errors = 0;  ///< malformed + invalid frames
    std::uint64_t gaps_backfilled = 0;
    std::string last_error;
};

struct symbol_feed_stats {
    std::string symbol;
    std::string state;  ///< "warming", "live", "backfilling", "stale", "disabled"
    std::uint64_t closed_delivered = 0;
    std::uint64_t backfilled = 0;  ///< closed candles delivered from REST after warm-up
    std::uint64_t duplicates = 0;
    std::uint64_t stale_dropped = 0;
    std::uint64_t gaps = 0;
};

struct binance_feed_stats {
    std::vector<connection_stats> connections;
    std::vector<symbol_feed_stats> symbols;
};

class binance_feed {
public:
    /// `sinks[i]` receives `symbols[i]`'s events and must outlive the feed. Throws
    /// std::invalid_argument / std::runtime_error for unusable settings (bad URL, CA file).
    binance_feed(const config::binance_feed_config& settings,
                 const std::vector<config::symbol_config>& symbols, std::vector<event_sink*> sinks,
                 std::shared_ptr<spdlog::logger> logger);
    ~binance_feed();  ///< stops
    binance_feed(const binance_feed&) = delete;
    binance_feed& operator=(const binance_feed&) = delete;

    void start();
    /// Closes the connections and joins the threads. Idempotent.
    void stop();
    binance_feed_stats stats() const;
    /// Starts feeding `symbol` to `sink` (which must outlive the feed) while running: new
    /// connection(s) for its streams, warm-up over REST, then live, as for the symbols given at
    /// construction; the existing connections are not touched. Thread-safe. Throws
    /// std::invalid_argument when the symbol is already fed or `sink` is null, std::logic_error
    /// when the feed is not running.
    void add_symbol(const config::symbol_config& symbol, event_sink* sink);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace tradingd::feed
