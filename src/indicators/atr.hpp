#pragma once
// detail::atr: TA-Lib ATR(n). True range = max(high - low, |high - prev close|, |low - prev close|)
// exists from the second candle; the ATR is seeded with the simple mean of the first n true ranges
// (ready after n+1 candles), then Wilder-smoothed: atr = (atr*(n-1) + tr) / n.
// Thread-safety: one thread per object.

#include <cstdint>

#include "indicator_base.hpp"

namespace tradingd::indicators::detail {

class atr final : public indicator_base {
public:
    explicit atr(std::int32_t n) noexcept : n_(n) {}
    void update(const candle& c) noexcept override;

private:
    std::int32_t n_;
    std::int32_t ranges_ = 0;  // true ranges seen, up to n_
    bool has_prev_ = false;
    double prev_close_ = 0;
    double atr_ = 0;  // sum of the first true ranges, then the average
};

}  // namespace tradingd::indicators::detail
