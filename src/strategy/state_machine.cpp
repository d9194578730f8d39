#include <cassert>
#include <cmath>

#include <tradingd/strategy/state_machine.hpp>

namespace tradingd::strategy {

namespace {

bool positive_finite(double x) noexcept {
    return std::isfinite(x) && x > 0;
}

// A stop or target is either absent or a usable price; a NaN level would silently never trigger.
bool valid_level(const std::optional<double>& level) noexcept {
    return !level || positive_finite(*level);
}

bool valid_position(const position& p) noexcept {
    return positive_finite(p.quantity) && positive_finite(p.entry_price) &&
           std::isfinite(p.entry_fee) && p.entry_fee >= 0 && valid_level(p.stop_loss) &&
           valid_level(p.take_profit);
}

}  // namespace

const char* phase_name(phase p) noexcept {
    switch (p) {
        case phase::idle:
            return "Idle";
        case phase::analyzing:
            return "Analyzing";
        case phase::in_position:
            return "InPosition";
    }
    return "Unknown";
}

bool state_machine::begin_analysis(timestamp_ms ts, std::string_view reason) {
    if (phase_ != phase::idle) return false;
    record(phase::analyzing, ts, reason);
    return true;
}

bool state_machine::cancel_analysis(timestamp_ms ts, std::string_view reason) {
    if (phase_ != phase::analyzing) return false;
    record(phase::idle, ts, reason);
    return true;
}

bool state_machine::open_position(const position& p, timestamp_ms ts, std::string_view reason) {
    // An unusable position (zero quantity, NaN price) would corrupt every later P&L figure, so it
    // is refused like an illegal transition.
    if (phase_ != phase::analyzing || !valid_position(p)) return false;
    position_ = p;
    position_->opened_at = ts;
    position_->bars_held = 0;
    record(phase::in_position, ts, reason);
    return true;
}

std::optional<closed_trade> state_machine::close_position(double exit_price, double exit_fee,
                                                          timestamp_ms ts,
                                                          std::string_view reason) {
    if (phase_ != phase::in_position || !position_) return std::nullopt;
    const position& p = *position_;
    closed_trade t;
    t.direction = p.direction;
    t.quantity = p.quantity;
    t.entry_price = p.entry_price;
    t.exit_price = exit_price;
    t.fees = p.entry_fee + exit_fee;
    t.gross_pnl = p.gross_pnl_at(exit_price);
    t.net_pnl = t.gross_pnl - t.fees;
    t.opened_at = p.opened_at;
    t.closed_at = ts;
    t.exit_reason = std::string(reason);

    realized_pnl_ += t.net_pnl;
    fees_paid_ += t.fees;
    ++trade_count_;
    position_.reset();
    record(phase::idle, ts, reason);
    return t;
}

bool state_machine::set_stop_loss(std::optional<double> price) noexcept {
    if (phase_ != phase::in_position || !position_ || !valid_level(price)) return false;
    position_->stop_loss = price;
    return true;
}

bool state_machine::set_take_profit(std::optional<double> price) noexcept {
    if (phase_ != phase::in_position || !position_ || !valid_level(price)) return false;
    position_->take_profit = price;
    return true;
}

void state_machine::on_bar_closed() noexcept {
    if (phase_ == phase::in_position && position_) ++position_->bars_held;
}

machine_image state_machine::image() const {
    machine_image m;
    m.current = phase_;
    m.open_position = position_;
    m.realized_pnl = realized_pnl_;
    m.fees_paid = fees_paid_;
    m.trade_count = trade_count_;
    m.history.reserve(history_size_);
    for (std::size_t i = 0; i < history_size_; ++i)
        m.history.push_back(history_at(i));
    m.ctx = ctx_;
    return m;
}

void state_machine::restore(const machine_image& m) {
    phase_ = m.current;
    position_ = m.open_position;
    realized_pnl_ = m.realized_pnl;
    fees_paid_ = m.fees_paid;
    trade_count_ = m.trade_count;
    const std::size_t first =
        m.history.size() > history_capacity ? m.history.size() - history_capacity : 0;
    history_head_ = 0;
    history_size_ = 0;
    for (std::size_t i = first; i < m.history.size(); ++i)
        history_[history_size_++] = m.history[i];
    ctx_ = m.ctx;
}

const transition& state_machine::history_at(std::size_t i) const noexcept {
    assert(i < history_size_);
    return history_[(history_head_ + i) % history_capacity];
}

void state_machine::record(phase to, timestamp_ms ts, std::string_view reason) {
    // Ring buffer: history_head_ is the oldest kept entry; once full, the oldest is overwritten.
    const std::size_t slot = (history_head_ + history_size_) % history_capacity;
    transition& t = history_[slot];
    t.from = phase_;
    t.to = to;
    t.ts = ts;
    t.reason.assign(reason);
    if (history_size_ < history_capacity) {
        ++history_size_;
    } else {
        history_head_ = (history_head_ + 1) % history_capacity;
    }
    phase_ = to;
}

}  // namespace tradingd::strategy
