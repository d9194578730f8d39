#include "stddev.hpp"

#include <cmath>

namespace tradingd::indicators::detail {

void stddev::update(const candle& c) noexcept {
    window_.push(c.close);
    if (!window_.full()) return;
    value_.ready = true;
    value_.v[0] = std::sqrt(window_.variance());
}

}  // namespace tradingd::indicators::detail
