#pragma once
// paper_broker: simulated execution of market orders against the current quote.
//
// A buy fills at ask * (1 + slippage), a sell at bid * (1 - slippage); the fee is fee_bps of the
// fill's notional. The broker keeps a cash balance and the fills it made (bounded: the last
// `max_fills_kept`; totals are exact regardless).
//
// Thread-safety: distinct objects safe; a shared object must only be used by its runner thread.

#include <cstddef>
#include <cstdint>
#include <deque>

#include <tradingd/core/market_types.hpp>
#include <tradingd/core/result.hpp>

namespace tradingd::exec {

enum class order_side : std::uint8_t { buy, sell };
const char* order_side_name(order_side s) noexcept;  // "buy" / "sell"

struct fill {
    order_side side = order_side::buy;
    double quantity = 0;
    double price = 0;  ///< after slippage
    double fee = 0;    ///< quote currency
    timestamp_ms ts = 0;
    friend bool operator==(const fill&, const fill&) = default;
};

struct paper_broker_config {
    double fee_bps = 10;
    double slippage_bps = 0;
    double starting_cash = 10'000;
    std::size_t max_fills_kept = 1000;
};

/// A paper account's whole state: what the journal snapshots and a restart restores.
struct paper_account {
    double cash = 0;
    double fees = 0;
    std::uint64_t fill_count = 0;
    std::deque<fill> fills;  ///< the last max_fills_kept
    friend bool operator==(const paper_account&, const paper_account&) = default;
};

class paper_broker {
public:
    explicit paper_broker(const paper_broker_config& cfg);

    /// Fills a market order at the quote. Refuses (error, nothing changes) a quantity that is not
    /// finite and > 0, or a quote whose bid/ask is not finite and > 0 or is crossed (bid > ask).
    result<fill> market_order(order_side side, double quantity, const quote& q);

    /// Books a fill made earlier (replaying the journal): the same arithmetic as market_order.
    void apply_fill(const fill& f);
    paper_account account() const;
    void restore(const paper_account& a);

    double cash() const noexcept { return cash_; }
    double fees_paid() const noexcept { return fees_; }
    std::uint64_t fill_count() const noexcept { return fill_count_; }
    const std::deque<fill>& recent_fills() const noexcept { return fills_; }
    const paper_broker_config& config() const noexcept { return cfg_; }

private:
    paper_broker_config cfg_;
    double cash_;
    double fees_ = 0;
    std::uint64_t fill_count_ = 0;
    std::deque<fill> fills_;
};

}  // namespace tradingd::exec
