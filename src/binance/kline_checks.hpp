#pragma once
// Candle rules shared by the stream parser and the REST klines parser (RELIABILITY.md §2.4), so a
// candle is accepted or rejected the same way whichever path delivered it.

#include <cstdint>

#include <tradingd/core/market_types.hpp>

namespace tradingd::binance::detail {

/// True when `open_time` starts a candle of `interval` ms. Binance aligns fixed intervals to the
/// Unix epoch, except weeks, which open on Monday 00:00 UTC (the epoch was a Thursday).
bool open_time_aligned(timestamp_ms open_time, std::int64_t interval) noexcept;

/// Why a candle breaks the rules: the field concerned and the rule it breaks.
struct candle_fault {
    const char* field;
    const char* rule;
};

/// The first broken rule of `c` for a candle of `interval` ms; {nullptr, nullptr} when the
/// candle is usable (prices > 0, volume >= 0, low <= open/close <= high, close time =
/// open time + interval - 1, open time aligned).
candle_fault check_candle(const candle& c, std::int64_t interval) noexcept;

}  // namespace tradingd::binance::detail
