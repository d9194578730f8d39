#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>

#include <tradingd/engine/risk.hpp>

namespace tradingd::engine {
namespace {

constexpr timestamp_ms k_minute_ms = 60'000;

std::string day_loss_message(double pnl, double limit, std::string_view scope) {
    return fmt::format(
        "max_daily_loss: realised P&L today (UTC) {:.2f}{} reached the limit -{:g}; no new "
        "entries until 00:00 UTC",
        pnl, scope, limit);
}

}  // namespace

// ---- order_rate, daily_pnl -------------------------------------------------------------------

void order_rate::note(timestamp_ms ts) {
    // Runners' market times may differ slightly; keep the deque ordered by clamping.
    if (!times_.empty()) ts = std::max(ts, times_.back());
    times_.push_back(ts);
    while (!times_.empty() && times_.front() <= ts - k_minute_ms)
        times_.pop_front();
}

std::uint64_t order_rate::in_last_minute(timestamp_ms ts) const {
    std::uint64_t n = 0;
    for (auto it = times_.rbegin(); it != times_.rend() && *it > ts - k_minute_ms; ++it) {
        if (*it <= ts) ++n;
    }
    return n;
}

void daily_pnl::add(double net_pnl, timestamp_ms ts) {
    const std::int64_t day = utc_day(ts);
    if (day < day_) return;  // a late report of a day already over
    if (day > day_) {
        day_ = day;
        pnl_ = 0;
    }
    pnl_ += net_pnl;
}

double daily_pnl::on_day_of(timestamp_ms ts) const noexcept {
    return utc_day(ts) == day_ ? pnl_ : 0.0;
}

recovered_risk recover_from_fills(const std::deque<exec::fill>& fills, timestamp_ms ts) {
    const std::int64_t day = utc_day(ts);
    double position = 0;
    double flow = 0;  // cash in minus cash out since the position was last flat
    recovered_risk out;
    for (const exec::fill& f : fills) {
        const bool buy = f.side == exec::order_side::buy;
        position += buy ? f.quantity : -f.quantity;
        flow += (buy ? -1.0 : 1.0) * f.quantity * f.price - f.fee;
        if (std::fabs(position) <= 1e-9 * std::max(1.0, f.quantity)) {
            if (utc_day(f.ts) == day) out.day_pnl += flow;
            out.last_exit_ts = f.ts;
            position = 0;
            flow = 0;
        }
    }
    return out;
}

// ---- symbol_risk -----------------------------------------------------------------------------

std::optional<risk_refusal> symbol_risk::check_entry(double quantity, double price,
                                                     timestamp_ms ts) const {
    const auto& l = limits_;
    if (l.max_position_quantity > 0 && quantity > l.max_position_quantity) {
        return risk_refusal{
            "max_position_quantity",
            fmt::format("max_position_quantity: quantity {:g} exceeds the limit {:g}", quantity,
                        l.max_position_quantity)};
    }
    const double notional = quantity * price;
    if (l.max_position_notional > 0 && notional > l.max_position_notional) {
        return risk_refusal{
            "max_position_notional",
            fmt::format("max_position_notional: {:g} x {:g} = {:.2f} exceeds the limit {:g}",
                        quantity, price, notional, l.max_position_notional)};
    }
    const double today = day_.on_day_of(ts);
    if (l.max_daily_loss > 0 && today <= -l.max_daily_loss) {
        return risk_refusal{"max_daily_loss", day_loss_message(today, l.max_daily_loss, "")};
    }
    const std::uint64_t orders = orders_.in_last_minute(ts);
    if (l.max_orders_per_minute > 0 &&
        orders >= static_cast<std::uint64_t>(l.max_orders_per_minute)) {
        return risk_refusal{
            "max_orders_per_minute",
            fmt::format("max_orders_per_minute: {} orders in the last minute (limit {})", orders,
                        l.max_orders_per_minute)};
    }
    const timestamp_ms cooldown_ms = l.cooldown_after_exit_s * 1000;
    if (cooldown_ms > 0 && exited_ && ts < last_exit_ts_ + cooldown_ms) {
        return risk_refusal{
            "cooldown_after_exit_s",
            fmt::format("cooldown_after_exit_s: {:g} s since the last exit (cooldown {} s)",
                        static_cast<double>(ts - last_exit_ts_) / 1000.0, l.cooldown_after_exit_s)};
    }
    return std::nullopt;
}

void symbol_risk::note_exit(double net_pnl, timestamp_ms ts) {
    orders_.note(ts);
    day_.add(net_pnl, ts);
    last_exit_ts_ = ts;
    exited_ = true;
}

void symbol_risk::restore(double day_pnl, timestamp_ms day_ts, timestamp_ms last_exit_ts) {
    day_ = daily_pnl{};
    day_.add(day_pnl, day_ts);
    if (last_exit_ts > 0) {
        last_exit_ts_ = last_exit_ts;
        exited_ = true;
    }
}

// ---- risk_book -------------------------------------------------------------------------------

void risk_book::set_limits(const config::risk_config& limits) {
    std::lock_guard lock(mutex_);
    limits_ = limits;
}

config::risk_config risk_book::limits() const {
    std::lock_guard lock(mutex_);
    return limits_;
}

void risk_book::set_halt(bool on, std::string reason) {
    std::lock_guard lock(mutex_);
    halt_reason_ = on ? std::move(reason) : std::string();
    halted_.store(on, std::memory_order_release);
}

std::string risk_book::halt_reason() const {
    std::lock_guard lock(mutex_);
    return halt_reason_;
}

std::optional<risk_refusal> risk_book::admit_entry(timestamp_ms ts) {
    std::lock_guard lock(mutex_);
    newest_ts_ = std::max(newest_ts_, ts);
    if (halted_.load(std::memory_order_acquire)) {
        return risk_refusal{"kill_switch", "kill_switch: trading halted (" + halt_reason_ + ")"};
    }
    const auto& l = limits_;
    if (l.max_open_positions > 0 && open_positions_ >= l.max_open_positions) {
        return risk_refusal{"max_open_positions",
                            fmt::format("max_open_positions: {} positions open over all symbols "
                                        "(limit {})",
                                        open_positions_, l.max_open_positions)};
    }
    const double today = day_.on_day_of(ts);
    if (l.max_daily_loss > 0 && today <= -l.max_daily_loss) {
        return risk_refusal{"max_daily_loss",
                            day_loss_message(today, l.max_daily_loss, " over all symbols")};
    }
    const std::uint64_t orders = orders_.in_last_minute(ts);
    if (l.max_orders_per_minute > 0 &&
        orders >= static_cast<std::uint64_t>(l.max_orders_per_minute)) {
        return risk_refusal{"max_orders_per_minute",
                            fmt::format("max_orders_per_minute: {} orders in the last minute over "
                                        "all symbols (limit {})",
                                        orders, l.max_orders_per_minute)};
    }
    ++open_positions_;
    orders_.note(ts);
    return std::nullopt;
}

void risk_book::cancel_entry() {
    std::lock_guard lock(mutex_);
    open_positions_ = std::max<std::int64_t>(0, open_positions_ - 1);
}

void risk_book::note_exit(double net_pnl, timestamp_ms ts) {
    std::lock_guard lock(mutex_);
    newest_ts_ = std::max(newest_ts_, ts);
    open_positions_ = std::max<std::int64_t>(0, open_positions_ - 1);
    day_.add(net_pnl, ts);
    orders_.note(ts);
}

void risk_book::note_restored(bool holds_position, double day_pnl, timestamp_ms day_ts) {
    std::lock_guard lock(mutex_);
    if (holds_position) ++open_positions_;
    if (day_ts > 0) {
        newest_ts_ = std::max(newest_ts_, day_ts);
        day_.add(day_pnl, day_ts);
    }
}

status::risk_status risk_book::snapshot() const {
    std::lock_guard lock(mutex_);
    status::risk_status s;
    s.halted = halted_.load(std::memory_order_acquire);
    s.halt_reason = halt_reason_;
    s.open_positions = open_positions_;
    s.daily_realized_pnl = day_.on_day_of(newest_ts_);
    s.orders_last_minute = orders_.in_last_minute(newest_ts_);
    return s;
}

}  // namespace tradingd::engine
