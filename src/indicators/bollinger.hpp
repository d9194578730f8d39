#pragma once
// detail::bollinger: TA-Lib BBANDS with an SMA middle band and population standard deviation:
// outputs {middle + k*sd, middle, middle - k*sd}, ready after n candles.
// Drift-free: see rolling_moments. Thread-safety: one thread per object.

#include <cstddef>

#include "indicator_base.hpp"
#include "rolling_moments.hpp"

namespace tradingd::indicators::detail {

class bollinger final : public indicator_base {
public:
    bollinger(std::size_t n, double k) : window_(n), k_(k) {}
    void update(const candle& c) noexcept override;

private:
    rolling_moments window_;
    double k_;
};

}  // namespace tradingd::indicators::detail
