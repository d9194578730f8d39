#include "kline_checks.hpp"

namespace tradingd::binance::detail {

namespace {
constexpr std::int64_t k_day_ms = 86'400'000;
constexpr std::int64_t k_week_ms = 7 * k_day_ms;
constexpr std::int64_t k_monday_offset_ms = 4 * k_day_ms;  // 1970-01-05 was the first Monday
}  // namespace

bool open_time_aligned(timestamp_ms open_time, std::int64_t interval) noexcept {
    if (interval <= 0) return false;
    const std::int64_t offset = interval == k_week_ms ? k_monday_offset_ms : 0;
    std::int64_t r = (open_time - offset) % interval;
    if (r < 0) r += interval;
    return r == 0;
}

candle_fault check_candle(const candle& c, std::int64_t interval) noexcept {
    // Explicit checks first so the fault names the field; is_valid() below is the shared
    // definition and must agree.
    if (!(c.open > 0)) return {"open", "must be > 0"};
    if (!(c.high > 0)) return {"high", "must be > 0"};
    if (!(c.low > 0)) return {"low", "must be > 0"};
    if (!(c.close > 0)) return {"close", "must be > 0"};
    if (!(c.volume >= 0)) return {"volume", "must be >= 0"};
    if (c.low > c.open || c.low > c.close) return {"low", "is above open or close"};
    if (c.high < c.open || c.high < c.close) return {"high", "is below open or close"};
    if (c.close_time != c.open_time + interval - 1)
        return {"close time", "is not open time + interval - 1"};
    if (!open_time_aligned(c.open_time, interval))
        return {"open time", "is not aligned to the interval"};
    if (!is_valid(c)) return {"candle", "is not valid"};
    return {nullptr, nullptr};
}

}  // namespace tradingd::binance::detail
