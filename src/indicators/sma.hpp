#pragma once
// detail::sma: simple mean of the last n closes (TA-Lib SMA), ready after n candles.
//
// Keeps only the running sum it needs (no second moment, unlike rolling_moments), relative to a
// shift (a recent close) so the sum stays small, and recomputes it exactly from the ring every n
// pushes (O(1) amortised), so rounding error never accumulates beyond n updates.
// Thread-safety: one thread per object.

#include <cstddef>

#include "indicator_base.hpp"
#include "ring_buffer.hpp"

namespace tradingd::indicators::detail {

class sma final : public indicator_base {
public:
    /// Precondition: n >= 1. Allocates the window here, never afterwards.
    explicit sma(std::size_t n) : window_(n), n_(static_cast<double>(n)) {}
    void update(const candle& c) noexcept override;

private:
    void rebase(double shift) noexcept;
    ring_buffer window_;
    double n_;
    double shift_ = 0;
    double sum_ = 0;  // sum of (close - shift_) over the window
    std::size_t since_rebase_ = 0;
};

}  // namespace tradingd::indicators::detail
