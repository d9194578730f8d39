#pragma once
// Exponential moving average as TA-Lib computes it: k = 2/(n+1), seeded with the simple mean of
// the first n inputs, then prev + k*(x - prev).
//
// ema_state is the bare recurrence over any input series (MACD reuses it for its three lines);
// detail::ema is the indicator over closes. Thread-safety: one thread per object.

#include <cstdint>

#include "indicator_base.hpp"

namespace tradingd::indicators::detail {

class ema_state {
public:
    /// Precondition: n >= 1.
    explicit ema_state(std::int32_t n) noexcept : n_(n), k_(2.0 / (n + 1.0)) {}

    /// Feeds the next input; returns ready().
    bool push(double x) noexcept {
        if (count_ < n_) return seed(x);
        value_ = (x - value_) * k_ + value_;
        return true;
    }
    bool ready() const noexcept { return count_ == n_; }
    /// Current average. Precondition: ready().
    double value() const noexcept { return value_; }

private:
    bool seed(double x) noexcept {
        value_ += x;  // sums the first n inputs, in order, as TA-Lib does
        if (++count_ < n_) return false;
        value_ /= n_;
        return true;
    }

    std::int32_t n_;
    double k_;
    std::int32_t count_ = 0;
    double value_ = 0;
};

class ema final : public indicator_base {
public:
    explicit ema(std::int32_t n) noexcept : state_(n) {}
    void update(const candle& c) noexcept override;

private:
    ema_state state_;
};

}  // namespace tradingd::indicators::detail
