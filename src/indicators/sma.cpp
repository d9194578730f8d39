#include "sma.hpp"

namespace tradingd::indicators::detail {

void sma::update(const candle& c) noexcept {
    window_.push(c.close);
    if (!window_.full()) return;
    value_.ready = true;
    value_.v[0] = window_.mean();
}

}  // namespace tradingd::indicators::detail
