#pragma once
// Risk limits, enforced by the engine whatever a script returns.
//
// symbol_risk: one symbol's limits ([symbols.risk]) and the little state they need, owned by
// its runner (one thread, no locks). risk_book: what all runners share ([risk]: open positions,
// the day's realised loss and the order rate over every symbol) plus the kill switch; its
// members are thread-safe and only entries and exits touch it (not the per-tick path).
//
// Rules (0 disables a limit):
//   - only new positions are ever refused; exits, stop-loss/take-profit and flattening are never
//     blocked by a limit (they reduce risk), but they count as orders;
//   - max_position_quantity / max_position_notional: the entry's quantity / quantity x price;
//   - max_daily_loss: once the realised P&L (net of fees) of the current UTC day (market time)
//     is at or below -limit, no entry until the next UTC day;
//   - max_orders_per_minute: orders (entries and exits) in the last 60 s of market time;
//   - cooldown_after_exit_s: no entry until this long after the last exit (market time);
//   - max_open_positions: over all symbols;
//   - the kill switch (risk_book::set_halt): no entry at all while engaged.
// Market time (the events' timestamps) rather than the wall clock keeps a runner deterministic:
// a replay or backtest refuses exactly what the live run refused.

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include <tradingd/config/config.hpp>
#include <tradingd/core/market_types.hpp>
#include <tradingd/exec/paper_broker.hpp>
#include <tradingd/status/daemon_status.hpp>

namespace tradingd::engine {

/// Why a limit refused an entry: the limit's config key and a sentence with the numbers.
struct risk_refusal {
    const char* limit = "";  ///< "max_position_notional", "kill_switch", ...
    std::string message;
};

/// The UTC day (days since the epoch) of a market time.
constexpr std::int64_t utc_day(timestamp_ms ts) noexcept {
    return ts >= 0 ? ts / 86'400'000 : -((-ts + 86'399'999) / 86'400'000);
}

/// Orders in a sliding minute of market time.
class order_rate {
public:
    void note(timestamp_ms ts);
    /// Orders in (ts - 60 s, ts].
    std::uint64_t in_last_minute(timestamp_ms ts) const;

private:
    std::deque<timestamp_ms> times_;  ///< oldest first; trimmed to the last minute on note()
};

/// Realised P&L (net of fees) of one UTC day.
class daily_pnl {
public:
    void add(double net_pnl, timestamp_ms ts);
    /// The day of `ts`: 0 when nothing was realised that day.
    double on_day_of(timestamp_ms ts) const noexcept;

private:
    std::int64_t day_ = 0;
    double pnl_ = 0;
};

/// What a restart recovers for the risk limits from the restored paper account's fills (oldest
/// first): the realised P&L of the round trips that closed on the UTC day of `ts`, and when the
/// last round trip closed (0: none).
struct recovered_risk {
    double day_pnl = 0;
    timestamp_ms last_exit_ts = 0;
};
recovered_risk recover_from_fills(const std::deque<exec::fill>& fills, timestamp_ms ts);

class symbol_risk {
public:
    explicit symbol_risk(const config::symbol_risk_config& limits = {}) : limits_(limits) {}
    void set_limits(const config::symbol_risk_config& limits) { limits_ = limits; }
    const config::symbol_risk_config& limits() const noexcept { return limits_; }

    /// nullopt when an entry of `quantity` at `price` at market time `ts` is within the limits.
    std::optional<risk_refusal> check_entry(double quantity, double price, timestamp_ms ts) const;
    void note_order(timestamp_ms ts) { orders_.note(ts); }
    /// A position closed at `ts` with `net_pnl` (starts the cooldown, counts toward the day).
    void note_exit(double net_pnl, timestamp_ms ts);
    /// At a restart: the day's realised P&L recovered from the account, and the last exit.
    void restore(double day_pnl, timestamp_ms day_ts, timestamp_ms last_exit_ts);
    double day_pnl(timestamp_ms ts) const noexcept { return day_.on_day_of(ts); }

private:
    config::symbol_risk_config limits_;
    order_rate orders_;
    daily_pnl day_;
    timestamp_ms last_exit_ts_ = 0;
    bool exited_ = false;
};

class risk_book {
public:
    explicit risk_book(const config::risk_config& limits = {}) : limits_(limits) {}
    risk_book(const risk_book&) = delete;
    risk_book& operator=(const risk_book&) = delete;

    void set_limits(const config::risk_config& limits);
    config::risk_config limits() const;

    bool halted() const noexcept { return halted_.load(std::memory_order_acquire); }
    /// Engages (`on`) or releases the kill switch; `reason` says who and why.
    void set_halt(bool on, std::string reason);
    std::string halt_reason() const;

    /// An entry about to be sent at market time `ts`: the kill switch and the global limits.
    /// When admitted, a position slot is taken and the order counted (cancel_entry gives both
    /// back if the entry does not happen).
    std::optional<risk_refusal> admit_entry(timestamp_ms ts);
    void cancel_entry();
    /// An exit order at `ts` (never refused) whose position realised `net_pnl`: frees the slot.
    void note_exit(double net_pnl, timestamp_ms ts);
    /// At start: a restored runner holding a position takes a slot; its day's P&L counts.
    void note_restored(bool holds_position, double day_pnl, timestamp_ms day_ts);

    status::risk_status snapshot() const;

private:
    mutable std::mutex mutex_;
    config::risk_config limits_;  // guarded by mutex_
    std::atomic<bool> halted_{false};
    std::string halt_reason_;          // guarded by mutex_
    std::int64_t open_positions_ = 0;  // guarded by mutex_
    daily_pnl day_;                    // guarded by mutex_
    order_rate orders_;                // guarded by mutex_
    timestamp_ms newest_ts_ = 0;       // guarded by mutex_
};

/// The position slot risk_book::admit_entry took, held until the entry is confirmed (keep());
/// otherwise given back (cancel_entry) when this goes out of scope. A null book holds nothing.
class admitted_entry {
public:
    explicit admitted_entry(risk_book* book) noexcept : book_(book) {}
    ~admitted_entry() {
        if (book_ != nullptr) book_->cancel_entry();
    }
    admitted_entry(const admitted_entry&) = delete;
    admitted_entry& operator=(const admitted_entry&) = delete;
    void keep() noexcept { book_ = nullptr; }

private:
    risk_book* book_;
};

}  // namespace tradingd::engine
