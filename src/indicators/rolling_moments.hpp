#pragma once
// detail::rolling_moments: mean and population variance of the last n values, O(1) amortised.
//
// The running sums are kept relative to a shift (a recent mean), so the variance does not suffer
// the catastrophic cancellation of sum(x^2)/n - mean^2 on prices far from zero, and they are
// recomputed exactly from the ring buffer every n pushes (O(n) every n pushes = O(1) amortised),
// so rounding error never accumulates beyond n updates. The variance is clamped at 0.
//
// Thread-safety: distinct objects safe; a shared object must only be used by one thread.

#include <cstddef>

#include "ring_buffer.hpp"

namespace tradingd::indicators::detail {

class rolling_moments {
public:
    /// Precondition: n >= 1. Allocates the window here, never afterwards.
    explicit rolling_moments(std::size_t n);

    /// Adds x, dropping the oldest value once n values are held. No allocation.
    void push(double x) noexcept;
    /// True once n values have been pushed.
    bool full() const noexcept { return buf_.full(); }
    /// Mean of the held values. Precondition: full().
    double mean() const noexcept;
    /// Population variance of the held values, >= 0. Precondition: full().
    double variance() const noexcept;

private:
    void rebase() noexcept;

    ring_buffer buf_;
    double n_;
    double shift_ = 0;
    double s1_ = 0;  // sum of (x - shift_)
    double s2_ = 0;  // sum of (x - shift_)^2
    std::size_t since_rebase_ = 0;
};

}  // namespace tradingd::indicators::detail
