#include "synthetic_market.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

namespace tradingd::testing::detail {

std::string format_units(units value) {
    const bool negative = value < 0;
    const auto magnitude = static_cast<std::uint64_t>(negative ? -value : value);
    std::string frac = std::to_string(magnitude % units_per_one);
    frac.insert(0, 8 - frac.size(), '0');
    return (negative ? "-" : "") + std::to_string(magnitude / units_per_one) + "." + frac;
}

double to_double(units value) noexcept {
    // Both operands are exact doubles, so the division is the correctly rounded decimal: the
    // same double strtod gives for the formatted string.
    return static_cast<double>(value) / static_cast<double>(units_per_one);
}

candle kline_row::to_candle() const noexcept {
    return candle{open_time,      close_time,       to_double(open),  to_double(high),
                  to_double(low), to_double(close), to_double(volume)};
}

std::uint64_t split_mix::next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

std::int64_t split_mix::between(std::int64_t lo, std::int64_t hi) noexcept {
    const auto span = static_cast<std::uint64_t>(hi - lo + 1);
    return lo + static_cast<std::int64_t>(next() % span);
}

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

/// A price tick of about 1e-5 of the start price, a power of ten in units (at least 1 unit).
units tick_for(units price) {
    units tick = 1;
    while (tick * 10 <= price / 100'000)
        tick *= 10;
    return tick;
}

units multiply(units a, units b) {
    return std::llround(to_double(a) * to_double(b) * static_cast<double>(units_per_one));
}

}  // namespace

synthetic_symbol::synthetic_symbol(const mock_symbol& spec, std::int64_t interval,
                                   std::uint64_t seed, timestamp_ms first_open,
                                   std::int32_t history, std::int32_t steps_per_candle)
    : symbol_(spec.symbol),
      interval_name_(spec.interval),
      interval_(interval),
      kline_stream_(lower(spec.symbol) + "@kline_" + spec.interval),
      book_stream_(lower(spec.symbol) + "@bookTicker"),
      rng_(seed) {
    if (!(spec.start_price > 0) || interval <= 0) {
        throw std::invalid_argument("mock_exchange: bad symbol spec for " + spec.symbol);
    }
    const auto start = std::llround(spec.start_price * static_cast<double>(units_per_one));
    tick_ = tick_for(start);
    forming_ = start_candle(first_open, std::max<units>(start, 100 * tick_));
    closed_.reserve(static_cast<std::size_t>(history) + 1024);
    for (std::int32_t c = 0; c < history; ++c) {
        for (std::int32_t s = 0; s < steps_per_candle; ++s)
            advance();
        close_forming();
    }
}

kline_row synthetic_symbol::start_candle(timestamp_ms open_time, units price) const noexcept {
    kline_row row;
    row.open_time = open_time;
    row.close_time = open_time + interval_ - 1;
    row.open = row.high = row.low = row.close = price;
    return row;
}

void synthetic_symbol::advance() {
    // Never below 100 ticks, so bids (a few ticks under) stay positive.
    const units floor_price = 100 * tick_;
    const units price = std::max(floor_price, forming_.close + rng_.between(-4, 4) * tick_);
    const units volume = rng_.between(1, 2000) * 100'000;  // 0.001 .. 2 base units
    const std::int64_t trades = rng_.between(1, 25);
    const units taker = volume * rng_.between(0, 100) / 100;

    forming_.close = price;
    forming_.high = std::max(forming_.high, price);
    forming_.low = std::min(forming_.low, price);
    forming_.volume += volume;
    forming_.quote_volume += multiply(volume, price);
    forming_.taker_base += taker;
    forming_.taker_quote += multiply(taker, price);
    if (forming_.first_trade_id < 0) forming_.first_trade_id = next_trade_id_;
    next_trade_id_ += trades;
    forming_.last_trade_id = next_trade_id_ - 1;
    forming_.trades += trades;
}

kline_row synthetic_symbol::close_forming() {
    closed_.push_back(forming_);
    forming_ = start_candle(forming_.open_time + interval_, forming_.close);
    return closed_.back();
}

book_quote synthetic_symbol::next_quote() {
    book_quote q;
    next_update_id_ += rng_.between(1, 50);
    q.update_id = next_update_id_;
    q.bid = forming_.close - rng_.between(1, 3) * tick_;
    q.ask = forming_.close + rng_.between(1, 3) * tick_;
    q.bid_qty = rng_.between(1, 100'000) * 1000;
    q.ask_qty = rng_.between(1, 100'000) * 1000;
    return q;
}

std::string kline_payload(const synthetic_symbol& sym, const kline_row& row, bool closed,
                          timestamp_ms event_time) {
    std::string out;
    out.reserve(420);
    out += R"({"e":"kline","E":)" + std::to_string(event_time) + R"(,"s":")" + sym.symbol() +
           R"(","k":{"t":)" + std::to_string(row.open_time) + R"(,"T":)" +
           std::to_string(row.close_time) + R"(,"s":")" + sym.symbol() + R"(","i":")" +
           sym.interval_name() + R"(","f":)" + std::to_string(row.first_trade_id) + R"(,"L":)" +
           std::to_string(row.last_trade_id) + R"(,"o":")" + format_units(row.open) + R"(","c":")" +
           format_units(row.close) + R"(","h":")" + format_units(row.high) + R"(","l":")" +
           format_units(row.low) + R"(","v":")" + format_units(row.volume) + R"(","n":)" +
           std::to_string(row.trades) + R"(,"x":)" + (closed ? "true" : "false") + R"(,"q":")" +
           format_units(row.quote_volume) + R"(","V":")" + format_units(row.taker_base) +
           R"(","Q":")" + format_units(row.taker_quote) + R"(","B":"0"}})";
    return out;
}

std::string book_ticker_payload(const synthetic_symbol& sym, const book_quote& q) {
    return R"({"u":)" + std::to_string(q.update_id) + R"(,"s":")" + sym.symbol() + R"(","b":")" +
           format_units(q.bid) + R"(","B":")" + format_units(q.bid_qty) + R"(","a":")" +
           format_units(q.ask) + R"(","A":")" + format_units(q.ask_qty) + R"("})";
}

std::string combined(const std::string& stream, const std::string& payload) {
    return R"({"stream":")" + stream + R"(","data":)" + payload + "}";
}

void append_rest_row(std::string& out, const kline_row& row) {
    out += "[" + std::to_string(row.open_time) + ",\"" + format_units(row.open) + "\",\"" +
           format_units(row.high) + "\",\"" + format_units(row.low) + "\",\"" +
           format_units(row.close) + "\",\"" + format_units(row.volume) + "\"," +
           std::to_string(row.close_time) + ",\"" + format_units(row.quote_volume) + "\"," +
           std::to_string(row.trades) + ",\"" + format_units(row.taker_base) + "\",\"" +
           format_units(row.taker_quote) + "\",\"0\"]";
}

}  // namespace tradingd::testing::detail
