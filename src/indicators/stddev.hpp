#pragma once
// detail::stddev: population standard deviation of the last n closes (TA-Lib STDDEV with
// nbdev = 1), ready after n candles. Drift-free and never NaN: see rolling_moments.
// Thread-safety: one thread per object.

#include <cstddef>

#include "indicator_base.hpp"
#include "rolling_moments.hpp"

namespace tradingd::indicators::detail {

class stddev final : public indicator_base {
public:
    explicit stddev(std::size_t n) : window_(n) {}
    void update(const candle& c) noexcept override;

private:
    rolling_moments window_;
};

}  // namespace tradingd::indicators::detail
