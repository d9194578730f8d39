#include "extremum.hpp"

namespace tradingd::indicators::detail {

extremum::extremum(std::size_t n, side s) : ring_(n), side_(s) {}

void extremum::update(const candle& c) noexcept {
    const double x = side_ == side::highest ? c.high : c.low;
    const std::uint64_t bar = bars_++;
    const std::uint64_t n = ring_.size();
    // Drop the candidate that slid out of the window (at most one per bar).
    if (count_ > 0 && ring_[front_].bar + n <= bar) {
        front_ = wrap(front_ + 1);
        --count_;
    }
    // Drop candidates the new value dominates, newest first.
    while (count_ > 0 && dominates(x, ring_[wrap(front_ + count_ - 1)].value))
        --count_;
    ring_[wrap(front_ + count_)] = entry{bar, x};
    ++count_;
    if (bars_ < n) return;
    value_.ready = true;
    value_.v[0] = ring_[front_].value;
}

}  // namespace tradingd::indicators::detail
