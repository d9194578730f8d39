#include <tradingd/strategy/position.hpp>

namespace tradingd::strategy {

const char* side_name(side s) noexcept {
    return s == side::long_side ? "long" : "short";
}

const char* exit_trigger_name(exit_trigger t) noexcept {
    return t == exit_trigger::stop_loss ? "stop_loss" : "take_profit";
}

double position::gross_pnl_at(double exit_price) const noexcept {
    const double per_unit =
        direction == side::long_side ? exit_price - entry_price : entry_price - exit_price;
    return per_unit * quantity;
}

double position::unrealized_pnl(double bid, double ask) const noexcept {
    // Valued at the side of the book the position would be closed against.
    return gross_pnl_at(direction == side::long_side ? bid : ask);
}

std::optional<auto_exit> check_auto_exit(const position& p, double bid, double ask) noexcept {
    if (p.direction == side::long_side) {
        // A long is closed by selling, i.e. at the bid.
        if (p.stop_loss && bid <= *p.stop_loss) return auto_exit{exit_trigger::stop_loss, bid};
        if (p.take_profit && bid >= *p.take_profit) {
            return auto_exit{exit_trigger::take_profit, bid};
        }
        return std::nullopt;
    }
    // A short is closed by buying, i.e. at the ask.
    if (p.stop_loss && ask >= *p.stop_loss) return auto_exit{exit_trigger::stop_loss, ask};
    if (p.take_profit && ask <= *p.take_profit) return auto_exit{exit_trigger::take_profit, ask};
    return std::nullopt;
}

}  // namespace tradingd::strategy
