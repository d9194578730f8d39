#include "sma.hpp"

namespace tradingd::indicators::detail {

void sma::update(const candle& c) noexcept {
    const double x = c.close;
    if (window_.size() == 0) shift_ = x;  // any nearby value works; the first one is at hand
    bool evicted = false;
    const double old = window_.push(x, evicted);
    sum_ += x - shift_;
    if (evicted) sum_ -= old - shift_;
    if (!window_.full()) return;
    if (++since_rebase_ >= window_.capacity()) rebase(x);
    value_.ready = true;
    value_.v[0] = shift_ + sum_ / n_;
}

// Exact recomputation around the newest close (one pass over the window).
void sma::rebase(double shift) noexcept {
    shift_ = shift;
    double sum = 0;
    window_.for_each([&](double v) { sum += v - shift_; });
    sum_ = sum;
    since_rebase_ = 0;
}

}  // namespace tradingd::indicators::detail
