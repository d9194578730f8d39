#pragma once
// detail::sma: simple mean of the last n closes (TA-Lib SMA), ready after n candles.
// Drift-free: see rolling_moments. Thread-safety: one thread per object.

#include <cstddef>

#include "indicator_base.hpp"
#include "rolling_moments.hpp"

namespace tradingd::indicators::detail {

class sma final : public indicator_base {
public:
    explicit sma(std::size_t n) : window_(n) {}
    void update(const candle& c) noexcept override;

private:
    rolling_moments window_;
};

}  // namespace tradingd::indicators::detail
