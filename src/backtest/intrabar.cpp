// The intrabar model: how one candle becomes the quotes the runner's auto-exit sees.
#include <tradingd/backtest/backtest.hpp>

namespace tradingd::backtest {

namespace {

// A quote event at `price` (the mid) with the model's spread around it.
market_event quote_at(double price, timestamp_ms ts, double half_spread) {
    market_event e;
    e.kind = event_kind::quote;
    e.ts = ts;
    e.bid = price * (1 - half_spread);
    e.ask = price * (1 + half_spread);
    return e;
}

}  // namespace

std::array<market_event, 5> candle_events(const candle& c, const intrabar_model& m) {
    const double half = m.spread_bps / 2 / 10'000;
    // The extreme nearer the open is taken first: the shorter path is the likelier one.
    const bool high_first = c.high - c.open <= c.open - c.low;
    const double first = high_first ? c.high : c.low;
    const double second = high_first ? c.low : c.high;
    // Quote times spread inside the candle in order; all strictly before the close event (which
    // carries close_time), so no two events share a time when the candle spans >= 4 ms.
    const timestamp_ms span = c.close_time - c.open_time;
    const timestamp_ms step = span >= 4 ? span / 4 : 0;
    std::array<market_event, 5> out{};
    out[0] = quote_at(c.open, c.open_time, half);
    out[1] = quote_at(first, c.open_time + step, half);
    out[2] = quote_at(second, c.open_time + 2 * step, half);
    out[3] = quote_at(c.close, c.open_time + 3 * step, half);
    market_event closed = out[3];
    closed.kind = event_kind::candle_closed;
    closed.ts = c.close_time;
    closed.bar = c;
    out[4] = closed;
    return out;
}

}  // namespace tradingd::backtest
