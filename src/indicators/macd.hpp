#pragma once
// detail::macd: TA-Lib MACD(fast, slow, signal). Both EMAs start at bar slow-1: the slow one is
// seeded with the SMA of closes 0..slow-1, the fast one with the SMA of closes slow-fast..slow-1
// (the first slow-fast closes never reach it). The signal line is an EMA of the MACD line seeded
// with the SMA of its first `signal` values. Outputs {macd, signal, macd - signal}, ready at bar
// slow + signal - 2. Thread-safety: one thread per object.

#include <cstdint>

#include "ema.hpp"
#include "indicator_base.hpp"

namespace tradingd::indicators::detail {

class macd final : public indicator_base {
public:
    /// Precondition: 1 <= fast < slow, signal >= 1.
    macd(std::int32_t fast, std::int32_t slow, std::int32_t signal) noexcept
        : fast_(fast), slow_(slow), signal_(signal), skip_fast_(slow - fast) {}
    void update(const candle& c) noexcept override;

private:
    ema_state fast_;
    ema_state slow_;
    ema_state signal_;
    std::int32_t skip_fast_;  // closes still to withhold from the fast EMA
};

}  // namespace tradingd::indicators::detail
