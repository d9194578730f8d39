#include <cmath>
#include <cstring>

#include <tradingd/core/market_types.hpp>

namespace tradingd {

bool is_valid(const candle& c) noexcept {
    const double v[] = {c.open, c.high, c.low, c.close};
    for (double x : v) {
        if (!std::isfinite(x) || x <= 0) return false;
    }
    if (!std::isfinite(c.volume) || c.volume < 0) return false;
    if (c.low > c.open || c.low > c.close || c.high < c.open || c.high < c.close) return false;
    return c.open_time <= c.close_time;
}

std::int64_t interval_ms(const char* text) noexcept {
    struct entry {
        const char* name;
        std::int64_t ms;
    };
    static constexpr std::int64_t s = 1000, m = 60 * s, h = 60 * m, d = 24 * h;
    static constexpr entry table[] = {
        {"1s", s},       {"1m", m},       {"3m", 3 * m}, {"5m", 5 * m}, {"15m", 15 * m},
        {"30m", 30 * m}, {"1h", h},       {"2h", 2 * h}, {"4h", 4 * h}, {"6h", 6 * h},
        {"8h", 8 * h},   {"12h", 12 * h}, {"1d", d},     {"3d", 3 * d}, {"1w", 7 * d},
    };
    if (text == nullptr) return 0;
    for (const auto& e : table) {
        if (std::strcmp(e.name, text) == 0) return e.ms;
    }
    return 0;
}

}  // namespace tradingd
