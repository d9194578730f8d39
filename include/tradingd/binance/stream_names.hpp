#pragma once
// Combined-stream subscriptions: which streams a daemon needs and how they are split into
// connections (Binance: at most 1024 streams per connection, RELIABILITY.md §2.1).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tradingd::binance {

/// Binance's per-connection stream limit.
inline constexpr std::size_t k_max_streams_per_connection = 1024;

/// "btcusdt@kline_5m" for ("BTCUSDT", "5m"): the symbol lower-cased, the interval unchanged
/// (intervals are case-sensitive: "1m" is a minute, "1M" a month).
std::string kline_stream(std::string_view symbol, std::string_view interval);
/// "btcusdt@bookTicker" for "BTCUSDT".
std::string book_ticker_stream(std::string_view symbol);

/// Request targets for combined-stream connections ("/stream?streams=a/b/c"), each carrying at
/// most `max_per_connection` streams (clamped to [1, k_max_streams_per_connection]). Streams
/// keep their order; streams of one symbol are kept on one connection when they fit, so a
/// symbol's kline and bookTicker share a connection's fate. Empty input gives no targets.
std::vector<std::string> combined_stream_targets(const std::vector<std::string>& streams,
                                                 std::size_t max_per_connection);

}  // namespace tradingd::binance
