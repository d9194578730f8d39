#include "macd.hpp"

namespace tradingd::indicators::detail {

void macd::update(const candle& c) noexcept {
    const bool slow_ready = slow_.push(c.close);
    if (skip_fast_ > 0) {
        --skip_fast_;
        return;
    }
    const bool fast_ready = fast_.push(c.close);
    if (!slow_ready || !fast_ready) return;  // both become ready on the same bar
    const double line = fast_.value() - slow_.value();
    if (!signal_.push(line)) return;
    value_.ready = true;
    value_.v = {line, signal_.value(), line - signal_.value()};
}

}  // namespace tradingd::indicators::detail
