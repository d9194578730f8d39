#include "rsi.hpp"

namespace tradingd::indicators::detail {

void rsi::update(const candle& c) noexcept {
    if (!has_prev_) {
        has_prev_ = true;
        prev_close_ = c.close;
        return;
    }
    const double change = c.close - prev_close_;
    prev_close_ = c.close;
    const bool seeding = changes_ < n_;
    if (!seeding) {
        gain_ *= (n_ - 1);
        loss_ *= (n_ - 1);
    }
    if (change < 0) {
        loss_ -= change;
    } else {
        gain_ += change;
    }
    if (seeding && ++changes_ < n_) return;
    gain_ /= n_;
    loss_ /= n_;
    publish();
}

void rsi::publish() noexcept {
    const double total = gain_ + loss_;
    value_.ready = true;
    value_.v[0] = total != 0 ? 100.0 * (gain_ / total) : 0.0;
}

}  // namespace tradingd::indicators::detail
