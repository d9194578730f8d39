#include "rolling_moments.hpp"

#include <algorithm>

namespace tradingd::indicators::detail {

rolling_moments::rolling_moments(std::size_t n) : buf_(n), n_(static_cast<double>(n)) {}

void rolling_moments::push(double x) noexcept {
    if (buf_.size() == 0) shift_ = x;  // any nearby value works; the first one is at hand
    bool evicted = false;
    const double old = buf_.push(x, evicted);
    const double d = x - shift_;
    s1_ += d;
    s2_ += d * d;
    if (evicted) {
        const double e = old - shift_;
        s1_ -= e;
        s2_ -= e * e;
    }
    if (buf_.full() && ++since_rebase_ >= buf_.capacity()) rebase();
}

double rolling_moments::mean() const noexcept {
    return shift_ + s1_ / n_;
}

double rolling_moments::variance() const noexcept {
    const double m = s1_ / n_;
    return std::max(0.0, s2_ / n_ - m * m);
}

// Exact two-pass recomputation: re-centre on the current mean, then sum the deviations.
void rolling_moments::rebase() noexcept {
    double sum = 0;
    buf_.for_each([&](double v) { sum += v - shift_; });
    shift_ += sum / n_;
    s1_ = 0;
    s2_ = 0;
    buf_.for_each([&](double v) {
        const double d = v - shift_;
        s1_ += d;
        s2_ += d * d;
    });
    since_rebase_ = 0;
}

}  // namespace tradingd::indicators::detail
