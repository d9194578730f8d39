#pragma once
// Plain market-data value types shared by every component.
//
// All timestamps are Unix epoch milliseconds (UTC), as Binance sends them. Prices and volumes are
// doubles: they are validated (finite, price > 0, volume >= 0) at the boundary that creates them
// (feed parser, simulated feed, file reader) and trusted afterwards.

#include <cstdint>

namespace tradingd {

/// Unix epoch milliseconds, UTC.
using timestamp_ms = std::int64_t;

/// One OHLCV candle. `close_time` is the last millisecond the candle covers
/// (open_time + interval - 1, as in Binance klines).
struct candle {
    timestamp_ms open_time = 0;
    timestamp_ms close_time = 0;
    double open = 0;
    double high = 0;
    double low = 0;
    double close = 0;
    double volume = 0;
};

/// Best bid / best ask at a moment.
struct quote {
    double bid = 0;
    double ask = 0;
    timestamp_ms ts = 0;
};

enum class event_kind : std::uint8_t {
    candle_update,  ///< the forming candle changed (not closed yet)
    candle_closed,  ///< a candle closed; `bar` is final
    quote,          ///< best bid/ask changed
};

/// One message from a feed to a runner. Trivially copyable so queues can move it by value.
struct market_event {
    event_kind kind = event_kind::quote;
    /// Warm-up history (filling the window before trading starts): the runner updates the window
    /// and indicators but does not call the strategy.
    bool warmup = false;
    std::uint32_t symbol = 0;  ///< index of the symbol in the daemon's config
    timestamp_ms ts = 0;       ///< event time
    candle bar{};              ///< valid for candle_update / candle_closed
    double bid = 0;            ///< valid for every kind (latest known quote)
    double ask = 0;
    /// steady_clock nanoseconds when the network frame carrying this event arrived (0 for
    /// events not from the network): feed-to-decision latency is measured from here.
    std::int64_t received_ns = 0;
};

/// True when every field of a candle is usable: finite, prices > 0, low <= open/close <= high,
/// volume >= 0, open_time <= close_time.
bool is_valid(const candle& c) noexcept;

/// Candle interval parsing: "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h",
/// "12h", "1d", "3d", "1w" (Binance's set, minus "1M"). Returns 0 for anything else.
std::int64_t interval_ms(const char* text) noexcept;

}  // namespace tradingd
