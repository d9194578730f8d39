#include "ema.hpp"

namespace tradingd::indicators::detail {

void ema::update(const candle& c) noexcept {
    if (!state_.push(c.close)) return;
    value_.ready = true;
    value_.v[0] = state_.value();
}

}  // namespace tradingd::indicators::detail
