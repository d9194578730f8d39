#pragma once
// Reading recorded candles from files, as Binance and common tools write them:
//  - Binance kline CSV (data.binance.vision, 12 columns, with or without a header row; open time
//    in milliseconds or microseconds, detected per row);
//  - a JSON array of [open_time_ms, open, high, low, close, volume] rows (freqtrade's format,
//    e.g. ../shared/binance-data/BTC_USDT-5m.json).
// Every row is validated (is_valid); a bad row is an error naming the file and row/line.

#include <filesystem>
#include <vector>

#include <tradingd/core/market_types.hpp>

namespace tradingd::feed {

/// Detects the format from the content (a leading '[' means JSON) and reads every candle.
/// close_time is taken from the CSV when present, otherwise inferred from the spacing of rows
/// (open_time + interval - 1, the interval being the most common difference of open times).
/// Throws std::runtime_error with "<file>:<line>: <problem>" on any bad row.
std::vector<candle> read_kline_file(const std::filesystem::path& path);

}  // namespace tradingd::feed
