#pragma once
// state_machine: the Idle -> Analyzing -> InPosition life cycle of one runner.
//
// Legal transitions (anything else is a programmer error and is refused):
//   idle       -> analyzing    detect_opportunity returned an opportunity
//   analyzing  -> idle         cancel_analysis
//   analyzing  -> in_position  enter_long / enter_short filled
//   in_position-> idle         exit, stop-loss or take-profit filled
// Every transition carries a reason and a timestamp; the last 100 are kept. The machine also owns
// the runner's typed context and its position, and accumulates realised P&L and fees.
//
// Thread-safety: must only be used by its runner thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tradingd/core/market_types.hpp>
#include <tradingd/strategy/context.hpp>
#include <tradingd/strategy/position.hpp>

namespace tradingd::strategy {

enum class phase : std::uint8_t { idle, analyzing, in_position };
const char* phase_name(phase p) noexcept;  // "Idle", "Analyzing", "InPosition"

struct transition {
    phase from = phase::idle;
    phase to = phase::idle;
    timestamp_ms ts = 0;
    std::string reason;
    friend bool operator==(const transition&, const transition&) = default;
};

/// A finished round trip.
struct closed_trade {
    side direction = side::long_side;
    double quantity = 0;
    double entry_price = 0;
    double exit_price = 0;
    double fees = 0;       ///< entry + exit fees
    double gross_pnl = 0;  ///< before fees
    double net_pnl = 0;    ///< gross_pnl - fees
    timestamp_ms opened_at = 0;
    timestamp_ms closed_at = 0;
    std::string exit_reason;
};

/// Everything a state_machine holds, for the journal's snapshots and a restore.
struct machine_image {
    phase current = phase::idle;
    std::optional<position> open_position;
    double realized_pnl = 0;
    double fees_paid = 0;
    std::size_t trade_count = 0;
    std::vector<transition> history;  ///< oldest first, at most history_capacity
    context ctx;
    friend bool operator==(const machine_image&, const machine_image&) = default;
};

class state_machine {
public:
    static constexpr std::size_t history_capacity = 100;

    machine_image image() const;
    /// Replaces the whole state (a restart restoring from the journal). The ctx's entries are
    /// replaced; its observer stays. A history longer than history_capacity keeps the newest.
    void restore(const machine_image& m);
    /// A restored position's bars_held, recounted from candle times after a restart.
    void set_bars_held(std::int64_t n) noexcept {
        if (position_) position_->bars_held = n;
    }

    phase current() const noexcept { return phase_; }

    /// idle -> analyzing. Returns false (and changes nothing) from any other phase.
    bool begin_analysis(timestamp_ms ts, std::string_view reason);
    /// analyzing -> idle.
    bool cancel_analysis(timestamp_ms ts, std::string_view reason);
    /// analyzing -> in_position with the filled position.
    bool open_position(const position& p, timestamp_ms ts, std::string_view reason);
    /// in_position -> idle at the given fill; returns the finished trade (also added to the
    /// realised totals).
    std::optional<closed_trade> close_position(double exit_price, double exit_fee, timestamp_ms ts,
                                               std::string_view reason);
    /// Stop/target changes while in position. Return false when not in position.
    bool set_stop_loss(std::optional<double> price) noexcept;
    bool set_take_profit(std::optional<double> price) noexcept;
    /// Counts a closed candle towards position.bars_held.
    void on_bar_closed() noexcept;

    const std::optional<position>& current_position() const noexcept { return position_; }
    context& ctx() noexcept { return ctx_; }
    const context& ctx() const noexcept { return ctx_; }

    double realized_pnl() const noexcept { return realized_pnl_; }  ///< net of fees
    double fees_paid() const noexcept { return fees_paid_; }
    std::size_t trade_count() const noexcept { return trade_count_; }

    /// Transitions, oldest first, at most history_capacity.
    std::size_t history_size() const noexcept { return history_size_; }
    const transition& history_at(std::size_t i) const noexcept;  ///< 0 = oldest kept

private:
    void record(phase to, timestamp_ms ts, std::string_view reason);

    phase phase_ = phase::idle;
    std::optional<position> position_;
    context ctx_;
    double realized_pnl_ = 0;
    double fees_paid_ = 0;
    std::size_t trade_count_ = 0;
    std::array<transition, history_capacity> history_{};
    std::size_t history_head_ = 0;
    std::size_t history_size_ = 0;
};

}  // namespace tradingd::strategy
