#include <doctest/doctest.h>

#include <string>

#include <tradingd/strategy/action.hpp>

using namespace tradingd::strategy;

TEST_CASE("action: names") {
    CHECK(std::string(action_name(no_action{})) == "none");
    CHECK(std::string(action_name(open_analysis{})) == "open_analysis");
    CHECK(std::string(action_name(cancel_analysis{})) == "cancel_analysis");
    enter_position lng;
    lng.direction = side::long_side;
    CHECK(std::string(action_name(lng)) == "enter_long");
    enter_position sht;
    sht.direction = side::short_side;
    CHECK(std::string(action_name(sht)) == "enter_short");
    CHECK(std::string(action_name(exit_position{})) == "exit");
    CHECK(std::string(action_name(update_stop_loss{})) == "update_stop_loss");
    CHECK(std::string(action_name(update_take_profit{})) == "update_take_profit");
}

TEST_CASE("action: reasons") {
    CHECK(action_reason(no_action{}).empty());
    CHECK(action_reason(open_analysis{"rsi oversold"}) == "rsi oversold");
    CHECK(action_reason(cancel_analysis{"timeout"}) == "timeout");
    enter_position e;
    e.reason = "cross up";
    CHECK(action_reason(e) == "cross up");
    CHECK(action_reason(exit_position{"done"}) == "done");
    CHECK(action_reason(update_stop_loss{90, "trail"}) == "trail");
    CHECK(action_reason(update_take_profit{120, "extend"}) == "extend");
}
