#pragma once
// detail::indicator_base: the interface every incremental indicator implements.
//
// An indicator receives closed candles oldest first through update() and keeps its latest outputs
// in an indicator_value that value() returns by reference. Implementations allocate all their
// storage in the constructor: update() and value() are O(1) (amortised for some) and never
// allocate or throw.
//
// Thread-safety: distinct objects safe; a shared object must only be used by one thread.

#include <tradingd/core/market_types.hpp>
#include <tradingd/indicators/indicator_set.hpp>

namespace tradingd::indicators::detail {

class indicator_base {
public:
    virtual ~indicator_base() = default;
    indicator_base() = default;
    indicator_base(const indicator_base&) = delete;
    indicator_base& operator=(const indicator_base&) = delete;

    /// Feeds the next closed candle (candles must arrive oldest first, each exactly once).
    virtual void update(const candle& c) noexcept = 0;
    /// Latest outputs; `ready` is false until enough candles were fed.
    const indicator_value& value() const noexcept { return value_; }

protected:
    indicator_value value_{};
};

}  // namespace tradingd::indicators::detail
