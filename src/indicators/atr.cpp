#include "atr.hpp"

#include <algorithm>
#include <cmath>

namespace tradingd::indicators::detail {

namespace {

double true_range(const candle& c, double prev_close) noexcept {
    return std::max(
        {c.high - c.low, std::fabs(prev_close - c.high), std::fabs(prev_close - c.low)});
}

}  // namespace

void atr::update(const candle& c) noexcept {
    const double prev = prev_close_;
    prev_close_ = c.close;
    if (!has_prev_) {
        has_prev_ = true;
        return;
    }
    const double tr = true_range(c, prev);
    if (ranges_ < n_) {
        atr_ += tr;
        if (++ranges_ < n_) return;
        atr_ /= n_;
    } else {
        atr_ = (atr_ * (n_ - 1) + tr) / n_;
    }
    value_.ready = true;
    value_.v[0] = atr_;
}

}  // namespace tradingd::indicators::detail
