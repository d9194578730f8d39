#pragma once
// The mock exchange's deterministic market: one seeded price walk per symbol, kept in exact
// 1e-8 units so that every value the mock serves (REST rows, WebSocket payloads,
// closed_candles()) is the same number, whatever path a client reads it from.
//
// Thread-safety: none; mock_exchange guards it with its mutex.

#include <cstdint>
#include <string>
#include <vector>

#include "mock_exchange.hpp"

namespace tradingd::testing::detail {

/// A decimal amount in units of 1e-8 (Binance's 8-decimal strings, exactly).
using units = std::int64_t;
inline constexpr units units_per_one = 100'000'000;

/// "25.35190000": Binance's 8-decimal string for a non-negative amount.
std::string format_units(units value);
/// The double nearest to the decimal `value` / 1e8 (what a client parsing the string gets).
double to_double(units value) noexcept;

/// One kline with every field Binance sends (REST row and `k` object alike).
struct kline_row {
    timestamp_ms open_time = 0;
    timestamp_ms close_time = 0;
    units open = 0;
    units high = 0;
    units low = 0;
    units close = 0;
    units volume = 0;
    units quote_volume = 0;
    units taker_base = 0;
    units taker_quote = 0;
    std::int64_t trades = 0;
    std::int64_t first_trade_id = -1;  ///< -1 while the candle has no trade (as Binance)
    std::int64_t last_trade_id = -1;
    candle to_candle() const noexcept;
};

struct book_quote {
    std::int64_t update_id = 0;
    units bid = 0;
    units bid_qty = 0;
    units ask = 0;
    units ask_qty = 0;
};

/// splitmix64: tiny, seedable and identical on every platform.
class split_mix {
public:
    explicit split_mix(std::uint64_t seed) noexcept : state_(seed) {}
    std::uint64_t next() noexcept;
    /// Uniform in [lo, hi] (hi - lo small).
    std::int64_t between(std::int64_t lo, std::int64_t hi) noexcept;

private:
    std::uint64_t state_;
};

/// One symbol's candles: the closed ones (history and produced) and the forming one.
class synthetic_symbol {
public:
    /// Builds `history` closed candles from `first_open`, each made of `steps_per_candle` walk
    /// steps (the same steps the live production uses), and the first forming candle.
    synthetic_symbol(const mock_symbol& spec, std::int64_t interval, std::uint64_t seed,
                     timestamp_ms first_open, std::int32_t history, std::int32_t steps_per_candle);

    /// One walk step of the forming candle (new trades, new close).
    void advance();
    /// Closes the forming candle, starts the next one at the previous close; returns the closed
    /// row.
    kline_row close_forming();
    /// A fresh best bid/ask around the current price (bid < ask, both > 0).
    book_quote next_quote();

    const std::vector<kline_row>& closed() const noexcept { return closed_; }
    const kline_row& forming() const noexcept { return forming_; }
    const std::string& symbol() const noexcept { return symbol_; }
    const std::string& interval_name() const noexcept { return interval_name_; }
    std::int64_t interval() const noexcept { return interval_; }
    const std::string& kline_stream() const noexcept { return kline_stream_; }
    const std::string& book_stream() const noexcept { return book_stream_; }

private:
    kline_row start_candle(timestamp_ms open_time, units price) const noexcept;

    std::string symbol_;
    std::string interval_name_;
    std::int64_t interval_;
    std::string kline_stream_;
    std::string book_stream_;
    split_mix rng_;
    units tick_;
    std::int64_t next_trade_id_ = 1;
    std::int64_t next_update_id_ = 1;
    std::vector<kline_row> closed_;
    kline_row forming_;
};

/// The kline event payload (raw shape), `x` = closed.
std::string kline_payload(const synthetic_symbol& sym, const kline_row& row, bool closed,
                          timestamp_ms event_time);
/// The bookTicker payload (raw shape).
std::string book_ticker_payload(const synthetic_symbol& sym, const book_quote& q);
/// {"stream":"<stream>","data":<payload>}
std::string combined(const std::string& stream, const std::string& payload);
/// One REST kline row: [openTime,"o","h","l","c","v",closeTime,"q",n,"V","Q","0"].
void append_rest_row(std::string& out, const kline_row& row);

}  // namespace tradingd::testing::detail
