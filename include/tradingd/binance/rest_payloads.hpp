#pragma once
// Parsing of Binance REST bodies the daemon reads (nlohmann/json: not a hot path).
//
// GET /api/v3/klines returns an array of rows
//   [openTime, "open", "high", "low", "close", "volume", closeTime, "quoteVol", trades, ...]
// Errors come as {"code":-1121,"msg":"Invalid symbol."}.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tradingd/core/market_types.hpp>
#include <tradingd/core/result.hpp>

namespace tradingd::binance {

/// Parses a klines body into candles, validating every row as stream_parser validates klines
/// (exact decimals, prices > 0, volume >= 0, low <= open/close <= high, close time = open time +
/// interval - 1, rows strictly increasing by open time). The error names the row and field.
result<std::vector<candle>> parse_klines(std::string_view body, std::int64_t interval_ms);

/// Keeps the rows whose candle has closed by `now` (close_time < now): a "most recent" query's
/// last row is usually the still-open candle.
void drop_unclosed(std::vector<candle>& candles, timestamp_ms now) noexcept;

struct api_error {
    std::int64_t code = 0;  ///< Binance's code, 0 when the body is not an error object
    std::string msg;        ///< Binance's msg, or the first 200 bytes of a non-JSON body
};

/// Reads Binance's {"code":..,"msg":..} error body; anything else becomes code 0 with a sample of
/// the body as msg.
api_error parse_api_error(std::string_view body);

}  // namespace tradingd::binance
