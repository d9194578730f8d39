#pragma once
// detail::extremum: highest high (TA-Lib MAX over highs) or lowest low (MIN over lows) of the last
// n candles, ready after n candles. A monotonic deque of candidate (bar, value) pairs, stored in a
// ring of capacity n allocated up front, gives amortised O(1) per candle: each bar enters and
// leaves the deque once. Thread-safety: one thread per object.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "indicator_base.hpp"

namespace tradingd::indicators::detail {

class extremum final : public indicator_base {
public:
    enum class side : std::uint8_t { highest, lowest };
    /// Precondition: n >= 1.
    extremum(std::size_t n, side s);
    void update(const candle& c) noexcept override;

private:
    struct entry {
        std::uint64_t bar = 0;
        double value = 0;
    };
    /// True when a new value x makes an older candidate `old` useless.
    bool dominates(double x, double old) const noexcept {
        return side_ == side::highest ? x >= old : x <= old;
    }
    std::size_t wrap(std::size_t i) const noexcept {
        return i >= ring_.size() ? i - ring_.size() : i;
    }

    std::vector<entry> ring_;
    side side_;
    std::size_t front_ = 0;   // ring index of the oldest candidate (the current extremum)
    std::size_t count_ = 0;   // candidates held
    std::uint64_t bars_ = 0;  // candles seen
};

}  // namespace tradingd::indicators::detail
