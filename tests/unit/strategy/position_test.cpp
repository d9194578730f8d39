#include <doctest/doctest.h>

#include <string>

#include <tradingd/strategy/position.hpp>

using namespace tradingd::strategy;

namespace {

position make(side s, std::optional<double> stop, std::optional<double> target) {
    position p;
    p.direction = s;
    p.quantity = 2;
    p.entry_price = 100;
    p.stop_loss = stop;
    p.take_profit = target;
    return p;
}

}  // namespace

TEST_CASE("position: names") {
    CHECK(std::string(side_name(side::long_side)) == "long");
    CHECK(std::string(side_name(side::short_side)) == "short");
    CHECK(std::string(exit_trigger_name(exit_trigger::stop_loss)) == "stop_loss");
    CHECK(std::string(exit_trigger_name(exit_trigger::take_profit)) == "take_profit");
}

TEST_CASE("position: long P&L is valued at the bid") {
    const position p = make(side::long_side, std::nullopt, std::nullopt);
    CHECK(p.gross_pnl_at(110) == doctest::Approx(20));
    CHECK(p.gross_pnl_at(95) == doctest::Approx(-10));
    CHECK(p.unrealized_pnl(104, 106) == doctest::Approx(8));
}

TEST_CASE("position: short P&L is valued at the ask") {
    const position p = make(side::short_side, std::nullopt, std::nullopt);
    CHECK(p.gross_pnl_at(90) == doctest::Approx(20));
    CHECK(p.gross_pnl_at(105) == doctest::Approx(-10));
    CHECK(p.unrealized_pnl(94, 96) == doctest::Approx(8));
}

TEST_CASE("position: long auto-exit at, beyond and short of stop and target") {
    const position p = make(side::long_side, 95.0, 110.0);
    // Between the levels: nothing, whatever the ask does.
    CHECK_FALSE(check_auto_exit(p, 95.01, 200).has_value());
    CHECK_FALSE(check_auto_exit(p, 109.99, 110.5).has_value());

    auto at_stop = check_auto_exit(p, 95, 95.1);
    REQUIRE(at_stop);
    CHECK(at_stop->trigger == exit_trigger::stop_loss);
    CHECK(at_stop->price == 95);

    auto at_target = check_auto_exit(p, 110, 110.1);
    REQUIRE(at_target);
    CHECK(at_target->trigger == exit_trigger::take_profit);
    CHECK(at_target->price == 110);

    auto above_target = check_auto_exit(p, 112, 112.1);
    REQUIRE(above_target);
    CHECK(above_target->trigger == exit_trigger::take_profit);
    CHECK(above_target->price == 112);

    // The ask touching a level does not close a long: it sells at the bid.
    CHECK_FALSE(check_auto_exit(p, 96, 110).has_value());
}

TEST_CASE("position: a gap through the stop fills at the gapped price") {
    const position lng = make(side::long_side, 95.0, 110.0);
    auto l = check_auto_exit(lng, 80, 80.2);
    REQUIRE(l);
    CHECK(l->trigger == exit_trigger::stop_loss);
    CHECK(l->price == 80);

    const position sht = make(side::short_side, 105.0, 90.0);
    auto s = check_auto_exit(sht, 119.8, 120);
    REQUIRE(s);
    CHECK(s->trigger == exit_trigger::stop_loss);
    CHECK(s->price == 120);
}

TEST_CASE("position: short auto-exit at, beyond and short of stop and target") {
    const position p = make(side::short_side, 105.0, 90.0);
    CHECK_FALSE(check_auto_exit(p, 0.5, 104.99).has_value());
    CHECK_FALSE(check_auto_exit(p, 89, 90.01).has_value());

    auto at_stop = check_auto_exit(p, 104.9, 105);
    REQUIRE(at_stop);
    CHECK(at_stop->trigger == exit_trigger::stop_loss);
    CHECK(at_stop->price == 105);

    auto at_target = check_auto_exit(p, 89.9, 90);
    REQUIRE(at_target);
    CHECK(at_target->trigger == exit_trigger::take_profit);
    CHECK(at_target->price == 90);

    auto below_target = check_auto_exit(p, 84.9, 85);
    REQUIRE(below_target);
    CHECK(below_target->trigger == exit_trigger::take_profit);
    CHECK(below_target->price == 85);

    // The bid touching a level does not close a short: it buys at the ask.
    CHECK_FALSE(check_auto_exit(p, 105, 104).has_value());
}

TEST_CASE("position: stop-loss wins when stop and target both hold") {
    // Levels set so that one quote satisfies both (a crossed configuration).
    const position lng = make(side::long_side, 100.0, 99.0);
    auto l = check_auto_exit(lng, 99.5, 99.6);
    REQUIRE(l);
    CHECK(l->trigger == exit_trigger::stop_loss);

    const position sht = make(side::short_side, 99.0, 100.0);
    auto s = check_auto_exit(sht, 99.4, 99.5);
    REQUIRE(s);
    CHECK(s->trigger == exit_trigger::stop_loss);
}

TEST_CASE("position: without stop or target it never exits automatically") {
    for (side sd : {side::long_side, side::short_side}) {
        const position p = make(sd, std::nullopt, std::nullopt);
        for (double px : {0.01, 50.0, 100.0, 150.0, 1e9}) {
            CHECK_FALSE(check_auto_exit(p, px, px * 1.001).has_value());
        }
    }
}

TEST_CASE("position: only the configured level triggers") {
    const position stop_only = make(side::long_side, 95.0, std::nullopt);
    CHECK_FALSE(check_auto_exit(stop_only, 1e6, 1e6 + 1).has_value());
    CHECK(check_auto_exit(stop_only, 90, 90.1).has_value());

    const position target_only = make(side::short_side, std::nullopt, 90.0);
    CHECK_FALSE(check_auto_exit(target_only, 1e6, 1e6 + 1).has_value());
    CHECK(check_auto_exit(target_only, 89, 89.5).has_value());
}
