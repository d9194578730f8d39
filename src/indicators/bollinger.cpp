#include "bollinger.hpp"

#include <cmath>

namespace tradingd::indicators::detail {

void bollinger::update(const candle& c) noexcept {
    window_.push(c.close);
    if (!window_.full()) return;
    const double middle = window_.mean();
    const double band = k_ * std::sqrt(window_.variance());
    value_.ready = true;
    value_.v = {middle + band, middle, middle - band};
}

}  // namespace tradingd::indicators::detail
