#pragma once
// detail::rsi: TA-Lib RSI(n). Average gain/loss are seeded with the simple mean of the first n
// close-to-close changes (ready at bar n), then Wilder-smoothed: avg = (avg*(n-1) + x) / n.
// RSI = 100 * gain / (gain + loss); 0 when both averages are 0 (a flat market, as TA-Lib; TA-Lib
// also returns 0 when gain + loss < 1e-8, which we do not copy because it zeroes the RSI of every
// asset priced below ~1e-6). Thread-safety: one thread per object.

#include <cstdint>

#include "indicator_base.hpp"

namespace tradingd::indicators::detail {

class rsi final : public indicator_base {
public:
    explicit rsi(std::int32_t n) noexcept : n_(n) {}
    void update(const candle& c) noexcept override;

private:
    void publish() noexcept;

    std::int32_t n_;
    std::int32_t changes_ = 0;  // close-to-close changes seen, up to n_
    bool has_prev_ = false;
    double prev_close_ = 0;
    double gain_ = 0;  // sum, then average, of gains
    double loss_ = 0;  // sum, then average, of losses (positive)
};

}  // namespace tradingd::indicators::detail
