#pragma once
// Parsing of Binance Spot market-stream text frames into typed messages (hot path, simdjson).
//
// Accepts the combined shape {"stream":"<name>","data":{...}} and the raw shape (the bare
// payload). Recognised payloads:
//   kline        {"e":"kline","E":..,"s":"BTCUSDT","k":{"t","T","i","o","c","h","l","v","x",..}}
//   bookTicker   {"u":..,"s":"BTCUSDT","b":"..","B":"..","a":"..","A":".."}  (no "e" field)
//   serverShutdown  {"e":"serverShutdown","E":..}, raw or as stream "!serverShutdown"
//   subscription replies {"result":..,"id":..} and errors {"code":n,"msg":"..","id":..}
// Other well-formed events (depthUpdate, aggTrade, trade, ...) are `ignored`: the daemon does
// not subscribe to them, but a shared connection may carry them.
//
// Validation (RELIABILITY.md §2.4, rows M03/M04): every number field is parsed from its string
// with parse_decimal (whole string consumed, finite); prices must be > 0, volumes >= 0, bid <=
// ask; a kline's interval must be a known one, its `T` must equal `t + interval - 1`, `t` must be
// aligned to the interval, and low <= open, close <= high. A payload that is valid JSON but fails
// any of this is `invalid` with a reason; text that is not JSON (or truncated) is `malformed`.
// Zero-volume klines are legal (a quiet minute) and flagged `zero_volume`.
//
// Thread-safety: one parser per thread (it owns a reusable padded buffer and simdjson parser).
// Lifetime: string_views in a parsed_message point into the parser's buffer and stay valid until
// the next parse() call.

#include <cstdint>
#include <memory>
#include <string_view>

#include <tradingd/core/market_types.hpp>

namespace tradingd::binance {

enum class message_kind : std::uint8_t {
    kline,
    book_ticker,
    server_shutdown,
    subscription_result,  ///< {"result":..,"id":..}
    subscription_error,   ///< {"code":..,"msg":..} (with or without id)
    ignored,              ///< a well-formed event of a kind the daemon does not use
    invalid,              ///< valid JSON, wrong schema or values (see `error`)
    malformed,            ///< not JSON, truncated, or not an object (see `error`)
};

const char* message_kind_name(message_kind k) noexcept;

struct kline_message {
    std::string_view symbol;    ///< upper case, as in the payload ("BTCUSDT")
    std::string_view interval;  ///< "1m", "5m", ...
    timestamp_ms event_time = 0;
    candle bar{};
    bool closed = false;       ///< the payload's "x"
    bool zero_volume = false;  ///< v == 0: legal, flagged for the caller's counters
};

struct book_ticker_message {
    std::string_view symbol;
    std::uint64_t update_id = 0;  ///< "u": orders bookTicker messages (there is no event time)
    double bid = 0;
    double bid_qty = 0;
    double ask = 0;
    double ask_qty = 0;
};

struct parsed_message {
    message_kind kind = message_kind::malformed;
    std::string_view stream;  ///< combined shape's "stream" (empty for the raw shape)
    kline_message kline;      ///< valid when kind == kline
    book_ticker_message book;
    timestamp_ms shutdown_time = 0;  ///< serverShutdown's "E"
    std::int64_t id = -1;            ///< subscription reply/error id when it is an integer
    std::int64_t error_code = 0;     ///< subscription_error's "code"
    std::string_view error;  ///< subscription_error's "msg"; the reason for invalid/malformed
};

class stream_parser {
public:
    stream_parser();
    ~stream_parser();
    stream_parser(const stream_parser&) = delete;
    stream_parser& operator=(const stream_parser&) = delete;

    /// Parses one text frame. Never throws; never allocates once the buffer has grown to the
    /// largest frame seen.
    const parsed_message& parse(std::string_view frame) noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace tradingd::binance
