#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include <tradingd/strategy/state_machine.hpp>

using namespace tradingd::strategy;

namespace {

position long_position(double qty = 2, double entry = 100, double fee = 0.2) {
    position p;
    p.direction = side::long_side;
    p.quantity = qty;
    p.entry_price = entry;
    p.entry_fee = fee;
    return p;
}

// Drives a fresh machine into the requested phase through legal transitions.
state_machine in_phase(phase ph) {
    state_machine m;
    if (ph == phase::idle) return m;
    REQUIRE(m.begin_analysis(1, "opportunity"));
    if (ph == phase::analyzing) return m;
    REQUIRE(m.open_position(long_position(), 2, "enter_long"));
    return m;
}

// Attempts every transition from `ph` and returns which succeeded, restoring nothing: each
// attempt runs on its own fresh machine.
struct attempts {
    bool begin, cancel, open, close;
};

attempts try_all(phase ph) {
    attempts a{};
    {
        state_machine m = in_phase(ph);
        a.begin = m.begin_analysis(10, "x");
    }
    {
        state_machine m = in_phase(ph);
        a.cancel = m.cancel_analysis(10, "x");
    }
    {
        state_machine m = in_phase(ph);
        a.open = m.open_position(long_position(), 10, "x");
    }
    {
        state_machine m = in_phase(ph);
        a.close = m.close_position(101, 0.1, 10, "x").has_value();
    }
    return a;
}

}  // namespace

TEST_CASE("state_machine: phase names") {
    CHECK(std::string(phase_name(phase::idle)) == "Idle");
    CHECK(std::string(phase_name(phase::analyzing)) == "Analyzing");
    CHECK(std::string(phase_name(phase::in_position)) == "InPosition");
}

TEST_CASE("state_machine: starts idle with empty history and totals") {
    state_machine m;
    CHECK(m.current() == phase::idle);
    CHECK(m.history_size() == 0);
    CHECK_FALSE(m.current_position().has_value());
    CHECK(m.realized_pnl() == 0);
    CHECK(m.fees_paid() == 0);
    CHECK(m.trade_count() == 0);
}

TEST_CASE("state_machine: exactly the legal transitions succeed from each phase") {
    const attempts idle = try_all(phase::idle);
    CHECK(idle.begin);
    CHECK_FALSE(idle.cancel);
    CHECK_FALSE(idle.open);
    CHECK_FALSE(idle.close);

    const attempts analyzing = try_all(phase::analyzing);
    CHECK_FALSE(analyzing.begin);
    CHECK(analyzing.cancel);
    CHECK(analyzing.open);
    CHECK_FALSE(analyzing.close);

    const attempts in_pos = try_all(phase::in_position);
    CHECK_FALSE(in_pos.begin);
    CHECK_FALSE(in_pos.cancel);
    CHECK_FALSE(in_pos.open);
    CHECK(in_pos.close);
}

TEST_CASE("state_machine: a refused transition changes nothing") {
    state_machine m = in_phase(phase::in_position);
    const std::size_t before = m.history_size();
    const double entry = m.current_position()->entry_price;
    CHECK_FALSE(m.begin_analysis(50, "again"));
    CHECK_FALSE(m.cancel_analysis(50, "again"));
    CHECK_FALSE(m.open_position(long_position(5, 200), 50, "again"));
    CHECK(m.current() == phase::in_position);
    CHECK(m.history_size() == before);
    CHECK(m.current_position()->entry_price == entry);

    state_machine idle;
    CHECK_FALSE(idle.close_position(100, 0, 5, "nothing open").has_value());
    CHECK(idle.history_size() == 0);
    CHECK(idle.trade_count() == 0);
    CHECK(idle.realized_pnl() == 0);
}

TEST_CASE("state_machine: transitions record from, to, time and reason") {
    state_machine m;
    REQUIRE(m.begin_analysis(1000, "rsi < 30"));
    REQUIRE(m.cancel_analysis(2000, "rsi recovered"));
    REQUIRE(m.begin_analysis(3000, "rsi < 30 again"));
    REQUIRE(m.open_position(long_position(), 4000, "enter_long"));
    REQUIRE(m.close_position(110, 0.22, 5000, "take_profit"));
    REQUIRE(m.history_size() == 5);
    const transition& t0 = m.history_at(0);
    CHECK(t0.from == phase::idle);
    CHECK(t0.to == phase::analyzing);
    CHECK(t0.ts == 1000);
    CHECK(t0.reason == "rsi < 30");
    CHECK(m.history_at(1).to == phase::idle);
    CHECK(m.history_at(1).reason == "rsi recovered");
    CHECK(m.history_at(3).from == phase::analyzing);
    CHECK(m.history_at(3).to == phase::in_position);
    CHECK(m.history_at(4).from == phase::in_position);
    CHECK(m.history_at(4).to == phase::idle);
    CHECK(m.history_at(4).ts == 5000);
    CHECK(m.history_at(4).reason == "take_profit");
}

TEST_CASE("state_machine: history is bounded at 100 and keeps the latest") {
    state_machine m;
    // 250 transitions: alternate begin/cancel; transition i has ts = i.
    for (int i = 0; i < 250; ++i) {
        const bool ok = (i % 2 == 0) ? m.begin_analysis(i, "t" + std::to_string(i))
                                     : m.cancel_analysis(i, "t" + std::to_string(i));
        REQUIRE(ok);
    }
    REQUIRE(m.history_size() == state_machine::history_capacity);
    REQUIRE(state_machine::history_capacity == 100);
    for (std::size_t i = 0; i < m.history_size(); ++i) {
        const int expected = 150 + static_cast<int>(i);
        CHECK(m.history_at(i).ts == expected);
        CHECK(m.history_at(i).reason == "t" + std::to_string(expected));
    }
}

TEST_CASE("state_machine: long round trip with fees") {
    state_machine m = in_phase(phase::analyzing);
    REQUIRE(m.open_position(long_position(2, 100, 0.2), 1000, "enter_long"));
    const auto t = m.close_position(110, 0.22, 2000, "exit");
    REQUIRE(t);
    CHECK(t->direction == side::long_side);
    CHECK(t->quantity == 2);
    CHECK(t->entry_price == 100);
    CHECK(t->exit_price == 110);
    CHECK(t->gross_pnl == doctest::Approx(20));
    CHECK(t->fees == doctest::Approx(0.42));
    CHECK(t->net_pnl == doctest::Approx(19.58));
    CHECK(t->opened_at == 1000);
    CHECK(t->closed_at == 2000);
    CHECK(t->exit_reason == "exit");
    CHECK(m.current() == phase::idle);
    CHECK_FALSE(m.current_position().has_value());
    CHECK(m.realized_pnl() == doctest::Approx(19.58));
    CHECK(m.fees_paid() == doctest::Approx(0.42));
    CHECK(m.trade_count() == 1);
}

TEST_CASE("state_machine: short round trip with fees and totals accumulate") {
    state_machine m = in_phase(phase::analyzing);
    position p = long_position(3, 50, 0.15);
    p.direction = side::short_side;
    REQUIRE(m.open_position(p, 1, "enter_short"));
    const auto win = m.close_position(40, 0.12, 2, "take_profit");
    REQUIRE(win);
    CHECK(win->gross_pnl == doctest::Approx(30));
    CHECK(win->net_pnl == doctest::Approx(30 - 0.27));

    // A losing short on top: totals add up.
    REQUIRE(m.begin_analysis(3, "again"));
    REQUIRE(m.open_position(p, 4, "enter_short"));
    const auto loss = m.close_position(55, 0.165, 5, "stop_loss");
    REQUIRE(loss);
    CHECK(loss->gross_pnl == doctest::Approx(-15));
    CHECK(loss->net_pnl == doctest::Approx(-15 - 0.315));
    CHECK(m.trade_count() == 2);
    CHECK(m.fees_paid() == doctest::Approx(0.27 + 0.315));
    CHECK(m.realized_pnl() == doctest::Approx(30 - 0.27 - 15 - 0.315));
}

TEST_CASE("state_machine: an unusable position is refused") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (position bad : {long_position(0), long_position(-1), long_position(nan),
                         long_position(1, 0), long_position(1, nan), long_position(1, 100, -1)}) {
        state_machine m = in_phase(phase::analyzing);
        CHECK_FALSE(m.open_position(bad, 5, "bad"));
        CHECK(m.current() == phase::analyzing);
    }
}

TEST_CASE("state_machine: stop and target changes only in position") {
    state_machine idle;
    CHECK_FALSE(idle.set_stop_loss(90.0));
    CHECK_FALSE(idle.set_take_profit(110.0));
    state_machine analyzing = in_phase(phase::analyzing);
    CHECK_FALSE(analyzing.set_stop_loss(90.0));
    CHECK_FALSE(analyzing.set_take_profit(110.0));

    state_machine m = in_phase(phase::in_position);
    CHECK(m.set_stop_loss(90.0));
    CHECK(m.set_take_profit(110.0));
    CHECK(m.current_position()->stop_loss == 90.0);
    CHECK(m.current_position()->take_profit == 110.0);
    CHECK(m.set_stop_loss(std::nullopt));
    CHECK_FALSE(m.current_position()->stop_loss.has_value());
    // A level that could never trigger properly is refused and the old one kept.
    CHECK_FALSE(m.set_take_profit(std::numeric_limits<double>::quiet_NaN()));
    CHECK_FALSE(m.set_take_profit(-5.0));
    CHECK(m.current_position()->take_profit == 110.0);
}

TEST_CASE("state_machine: bars_held counts closed candles while in position") {
    state_machine m;
    m.on_bar_closed();  // idle: nothing to count
    REQUIRE(m.begin_analysis(1, "x"));
    m.on_bar_closed();
    position p = long_position();
    p.bars_held = 7;  // a stale count must not leak into the new position
    REQUIRE(m.open_position(p, 2, "enter"));
    CHECK(m.current_position()->bars_held == 0);
    CHECK(m.current_position()->opened_at == 2);
    m.on_bar_closed();
    m.on_bar_closed();
    m.on_bar_closed();
    CHECK(m.current_position()->bars_held == 3);
}

TEST_CASE("state_machine: context survives transitions") {
    state_machine m;
    m.ctx().set("entry_reason", std::string("breakout"));
    REQUIRE(m.begin_analysis(1, "x"));
    REQUIRE(m.open_position(long_position(), 2, "enter"));
    REQUIRE(m.close_position(100, 0, 3, "exit"));
    const state_machine& cm = m;
    REQUIRE(cm.ctx().get("entry_reason") != nullptr);
    CHECK(std::get<std::string>(*cm.ctx().get("entry_reason")) == "breakout");
}
