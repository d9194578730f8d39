#pragma once
// action: what a strategy call asked for, after validation of the table Lua returned.
//
// The Lua layer turns every accepted return value into exactly one of these; anything else is an
// error message naming script, function, field and expectation (see docs/lua-api.md).

#include <optional>
#include <string>
#include <variant>

#include <tradingd/strategy/position.hpp>

namespace tradingd::strategy {

/// `nil`: nothing to do.
struct no_action {};
/// From detect_opportunity: a table (its scalar fields were already merged into ctx). Idle ->
/// Analyzing.
struct open_analysis {
    std::string reason;  ///< the table's `reason` field, if it had one
};
/// {action="cancel_analysis"}: Analyzing -> Idle.
struct cancel_analysis {
    std::string reason;
};
/// {action="enter_long"|"enter_short", quantity=, stop_loss=, take_profit=, reason=}.
struct enter_position {
    side direction = side::long_side;
    std::optional<double> quantity;  ///< nil: the symbol's configured order quantity
    std::optional<double> stop_loss;
    std::optional<double> take_profit;
    std::string reason;
};
/// {action="exit"}.
struct exit_position {
    std::string reason;
};
/// {action="update_stop_loss", price=}.
struct update_stop_loss {
    double price = 0;
    std::string reason;
};
/// {action="update_take_profit", price=}.
struct update_take_profit {
    double price = 0;
    std::string reason;
};

using action = std::variant<no_action, open_analysis, cancel_analysis, enter_position,
                            exit_position, update_stop_loss, update_take_profit>;

/// "none", "open_analysis", "cancel_analysis", "enter_long", "enter_short", "exit",
/// "update_stop_loss", "update_take_profit".
const char* action_name(const action& a) noexcept;
/// The reason string of any action ("" for no_action).
const std::string& action_reason(const action& a) noexcept;

}  // namespace tradingd::strategy
