#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include <tradingd/exec/paper_broker.hpp>

namespace tradingd::exec {

namespace {

bool positive_finite(double x) noexcept {
    return std::isfinite(x) && x > 0;
}

std::string format_number(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return buf;
}

// Returns the first problem with an order, or an empty string when it can be filled.
std::string order_problem(order_side side, double quantity, const quote& q) {
    const std::string prefix = std::string("market ") + order_side_name(side) + " refused: ";
    if (!positive_finite(quantity)) {
        return prefix + "quantity must be finite and > 0 (got " + format_number(quantity) + ")";
    }
    if (!positive_finite(q.bid)) {
        return prefix + "quote bid must be finite and > 0 (got " + format_number(q.bid) + ")";
    }
    if (!positive_finite(q.ask)) {
        return prefix + "quote ask must be finite and > 0 (got " + format_number(q.ask) + ")";
    }
    if (q.bid > q.ask) {
        return prefix + "quote is crossed (bid " + format_number(q.bid) + " > ask " +
               format_number(q.ask) + ")";
    }
    return {};
}

void validate(const paper_broker_config& cfg) {
    if (!std::isfinite(cfg.fee_bps) || cfg.fee_bps < 0) {
        throw std::invalid_argument("paper_broker: fee_bps must be finite and >= 0 (got " +
                                    format_number(cfg.fee_bps) + ")");
    }
    // Slippage of 100% or more would make a sell fill at a non-positive price.
    if (!std::isfinite(cfg.slippage_bps) || cfg.slippage_bps < 0 || cfg.slippage_bps >= 1e4) {
        throw std::invalid_argument("paper_broker: slippage_bps must be in [0, 10000) (got " +
                                    format_number(cfg.slippage_bps) + ")");
    }
    if (!std::isfinite(cfg.starting_cash)) {
        throw std::invalid_argument("paper_broker: starting_cash must be finite (got " +
                                    format_number(cfg.starting_cash) + ")");
    }
}

}  // namespace

const char* order_side_name(order_side s) noexcept {
    return s == order_side::buy ? "buy" : "sell";
}

paper_broker::paper_broker(const paper_broker_config& cfg) : cfg_(cfg), cash_(cfg.starting_cash) {
    validate(cfg_);
}

result<fill> paper_broker::market_order(order_side side, double quantity, const quote& q) {
    if (std::string problem = order_problem(side, quantity, q); !problem.empty()) {
        return error{std::move(problem)};
    }
    const double slip = cfg_.slippage_bps / 1e4;
    fill f;
    f.side = side;
    f.quantity = quantity;
    f.price = side == order_side::buy ? q.ask * (1 + slip) : q.bid * (1 - slip);
    f.fee = f.price * quantity * cfg_.fee_bps / 1e4;
    f.ts = q.ts;

    const double notional = f.price * quantity;
    if (!std::isfinite(notional + f.fee)) {
        return error{std::string("market ") + order_side_name(side) +
                     " refused: notional is not finite (quantity " + format_number(quantity) +
                     " at price " + format_number(f.price) + ")"};
    }
    apply_fill(f);
    return f;
}

void paper_broker::apply_fill(const fill& f) {
    const double notional = f.price * f.quantity;
    cash_ += f.side == order_side::buy ? -(notional + f.fee) : notional - f.fee;
    fees_ += f.fee;
    ++fill_count_;
    fills_.push_back(f);
    while (fills_.size() > cfg_.max_fills_kept)
        fills_.pop_front();
}

paper_account paper_broker::account() const {
    return paper_account{cash_, fees_, fill_count_, fills_};
}

void paper_broker::restore(const paper_account& a) {
    cash_ = a.cash;
    fees_ = a.fees;
    fill_count_ = a.fill_count;
    fills_ = a.fills;
    while (fills_.size() > cfg_.max_fills_kept)
        fills_.pop_front();
}

}  // namespace tradingd::exec
