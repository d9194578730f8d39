#pragma once
// position: an open long or short position and its P&L arithmetic.

#include <cstdint>
#include <optional>

#include <tradingd/core/market_types.hpp>

namespace tradingd::strategy {

enum class side : std::uint8_t { long_side, short_side };
const char* side_name(side s) noexcept;  // "long" / "short"

struct position {
    side direction = side::long_side;
    double quantity = 0;     ///< > 0, in base units
    double entry_price = 0;  ///< average fill price
    std::optional<double> stop_loss;
    std::optional<double> take_profit;
    double entry_fee = 0;  ///< fee paid on entry (quote currency)
    timestamp_ms opened_at = 0;
    std::int64_t bars_held = 0;  ///< closed candles since entry

    friend bool operator==(const position&, const position&) = default;

    /// Mark-to-market P&L excluding fees: a long is valued at the bid, a short at the ask
    /// (the price it could be closed at now).
    double unrealized_pnl(double bid, double ask) const noexcept;
    /// P&L of closing the whole position at `exit_price`, before fees.
    double gross_pnl_at(double exit_price) const noexcept;
};

enum class exit_trigger : std::uint8_t { stop_loss, take_profit };
const char* exit_trigger_name(exit_trigger t) noexcept;  // "stop_loss" / "take_profit"

/// An automatic exit decided on a price update. `price` is the quote that triggered it (bid for a
/// long, ask for a short), which is where the paper broker fills: if the market gapped through the
/// level, the fill is at the gapped price, not at the stop/target level.
struct auto_exit {
    exit_trigger trigger;
    double price;
};

/// Long: exits when bid <= stop or bid >= target. Short: when ask >= stop or ask <= target.
/// Stop-loss wins when both hold. Pure; O(1); never allocates.
std::optional<auto_exit> check_auto_exit(const position& p, double bid, double ask) noexcept;

}  // namespace tradingd::strategy
