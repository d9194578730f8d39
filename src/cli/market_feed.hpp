#pragma once
// market_feed: the feed selected by [feed] type (simulated, Binance or replay) behind one interface
// for the daemon's lifecycle, its status endpoint and config reloads.
//
// Thread-safety: start/stop from the main thread; status() and add_symbol() from any thread.

#include <memory>
#include <string>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/core/event_sink.hpp>
#include <tradingd/status/daemon_status.hpp>

namespace tradingd::cli {

class market_feed {
public:
    virtual ~market_feed() = default;
    virtual void start() = 0;
    virtual void stop() = 0;
    virtual std::string describe() const = 0;
    /// Whether add_symbol works while running (config reload adding a symbol).
    virtual bool can_add_symbols() const = 0;
    /// Starts delivering `symbol`'s events to `sink`. Throws std::exception on failure.
    virtual void add_symbol(const config::symbol_config& symbol, event_sink* sink) = 0;
    /// Connections and per-symbol states for GET /status, /metrics and /healthz.
    virtual status::feed_status status() const = 0;
    /// Whether every connection is up (systemd READY waits for it).
    virtual bool connected() const = 0;
    /// Whether the feed has delivered everything it ever will (a replay at the end of its
    /// recording): the daemon then stops as if its duration had elapsed. Live feeds never finish.
    virtual bool finished() const { return false; }
};

/// The feed [feed] type selects; `sinks[i]` receives `s.symbols[i]`'s events. With [feed] record,
/// it is wrapped so that every event a sink accepts is also recorded (docs/recording.md).
std::unique_ptr<market_feed> make_feed(const config::daemon_settings& s,
                                       std::vector<event_sink*> sinks);

}  // namespace tradingd::cli
