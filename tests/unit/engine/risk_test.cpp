// Risk limits enforced by the engine (engine/risk.hpp) on a real runner_core and script: each
// limit refuses the entry it should, names itself in the decision log and lets exits through.
#include <doctest/doctest.h>

#include <decision_capture.hpp>
#include <filesystem>
#include <test_support.hpp>

#include <tradingd/engine/kill_switch.hpp>
#include <tradingd/engine/risk.hpp>
#include <tradingd/engine/runner_core.hpp>

using namespace tradingd;
using tradingd::testing::closed_event;
using tradingd::testing::make_candle;
using tradingd::testing::quote_event;

namespace {

// Opens an analysis on every Idle candle and enters long on the next (stop/target 10% away).
constexpr const char* always_enter = R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
function filter_commitment(m, ctx, ind)
  return { action = "enter_long", stop_loss = m.ask * 0.9, take_profit = m.ask * 1.1, reason = "in" }
end
function manage_position(m, ctx, ind, p) return nil end
)";

constexpr timestamp_ms k_start = 1704067200000;  // 2024-01-01T00:00Z

/// A closed 10-second candle ending at k_start + seconds.
market_event candle_at(std::int64_t seconds, double close) {
    candle c = make_candle(0, close);
    c.close_time = k_start + seconds * 1000;
    c.open_time = c.close_time - 9'999;
    return closed_event(c);
}

struct fixture {
    testing::temp_dir dir;
    testing::capture_sink sink;
    config::sandbox_config sandbox;
    config::paper_config paper;
    engine::risk_book book;

    fixture() { paper.slippage_bps = 0; }
    std::unique_ptr<engine::runner_core> runner(const config::symbol_risk_config& risk,
                                                const std::string& name = "TESTUSDT") {
        config::symbol_config s;
        s.symbol = name;
        s.strategy = "always_enter";
        s.strategy_path = dir.write("always_enter.lua", always_enter);
        s.window = 100;
        s.quantity = 1;
        s.risk = risk;
        return std::make_unique<engine::runner_core>(s, sandbox, paper, sink, nullptr, nullptr,
                                                     nullptr, nullptr, &book);
    }
    std::vector<std::string> refused_limits() const {
        std::vector<std::string> out;
        for (const auto& r : sink.with_event("risk_refused"))
            out.push_back(r.value("reason", std::string()));
        return out;
    }
};

bool in_position(const engine::runner_core& r) {
    return r.machine().current() == strategy::phase::in_position;
}

}  // namespace

TEST_CASE("risk: max_position_quantity and max_position_notional refuse the entry, naming it") {
    SUBCASE("quantity") {
        fixture f;
        auto r = f.runner({.max_position_quantity = 0.5});
        r->on_event(candle_at(10, 100));
        r->on_event(candle_at(20, 100));
        CHECK_FALSE(in_position(*r));
        CHECK(r->machine().current() == strategy::phase::analyzing);  // the strategy decides
        CHECK(f.refused_limits() == std::vector<std::string>{"max_position_quantity"});
        const auto rec = f.sink.with_event("risk_refused").at(0);
        CHECK(rec["message"].get<std::string>().find("quantity 1 exceeds the limit 0.5") !=
              std::string::npos);
        CHECK(rec["quantity"] == 1);
        CHECK(f.sink.count("fill") == 0);
        status::runner_status st;
        r->fill_status(st);
        REQUIRE(st.risk_refusals.size() == 1);
        CHECK(st.risk_refusals[0].limit == "max_position_quantity");
        CHECK(st.risk_refusals[0].count == 1);
    }
    SUBCASE("notional: refused at 100 x 1 > 50, admitted under a limit of 200") {
        fixture f;
        auto r = f.runner({.max_position_notional = 50});
        r->on_event(candle_at(10, 100));
        r->on_event(candle_at(20, 100));
        CHECK(f.refused_limits() == std::vector<std::string>{"max_position_notional"});
        r->set_risk_limits({.max_position_notional = 200});  // a config reload
        r->on_event(candle_at(30, 100));
        CHECK(in_position(*r));
    }
}

TEST_CASE("risk: max_daily_loss stops entries for the rest of the UTC day") {
    fixture f;
    auto r = f.runner({.max_daily_loss = 5});
    r->on_event(candle_at(10, 100));
    r->on_event(candle_at(20, 100));
    REQUIRE(in_position(*r));
    r->on_event(quote_event(k_start + 21'000, 80, 80.02));  // stop-loss: ~ -20 realised
    REQUIRE_FALSE(in_position(*r));
    CHECK(r->machine().realized_pnl() < -5);
    r->on_event(candle_at(30, 100));  // detect
    r->on_event(candle_at(40, 100));  // entry refused
    CHECK_FALSE(in_position(*r));
    CHECK(f.refused_limits() == std::vector<std::string>{"max_daily_loss"});
    r->on_event(candle_at(3'600, 100));  // later the same day: still refused
    CHECK_FALSE(in_position(*r));
    r->on_event(candle_at(86'400 + 10, 100));  // the next UTC day
    CHECK(in_position(*r));
}

TEST_CASE("risk: max_orders_per_minute counts entries and exits in the last minute") {
    fixture f;
    auto r = f.runner({.max_orders_per_minute = 2});
    r->on_event(candle_at(10, 100));
    r->on_event(candle_at(20, 100));                        // order 1 (entry)
    r->on_event(quote_event(k_start + 21'000, 80, 80.02));  // order 2 (stop-loss: never refused)
    REQUIRE_FALSE(in_position(*r));
    CHECK(f.sink.count("fill") == 2);
    r->on_event(candle_at(30, 100));
    r->on_event(candle_at(40, 100));  // a third order within the minute: refused
    CHECK(f.refused_limits() == std::vector<std::string>{"max_orders_per_minute"});
    r->on_event(candle_at(90, 100));  // 20 s and 21 s are more than a minute ago
    CHECK(in_position(*r));
}

TEST_CASE("risk: cooldown_after_exit_s refuses entries until the cooldown has passed") {
    fixture f;
    auto r = f.runner({.cooldown_after_exit_s = 60});
    r->on_event(candle_at(10, 100));
    r->on_event(candle_at(20, 100));
    r->on_event(quote_event(k_start + 21'000, 80, 80.02));
    r->on_event(candle_at(30, 100));
    r->on_event(candle_at(40, 100));
    CHECK(f.refused_limits() == std::vector<std::string>{"cooldown_after_exit_s"});
    CHECK_FALSE(in_position(*r));
    r->on_event(candle_at(81, 100));  // 60 s after the exit
    CHECK(in_position(*r));
}

TEST_CASE("risk: max_open_positions holds over all symbols; an exit frees the slot") {
    fixture f;
    config::risk_config limits;
    limits.max_open_positions = 1;
    f.book.set_limits(limits);
    auto a = f.runner({}, "AAAUSDT");
    auto b = f.runner({}, "BBBUSDT");
    for (auto* r : {a.get(), b.get()})
        r->on_event(candle_at(10, 100));
    a->on_event(candle_at(20, 100));
    b->on_event(candle_at(20, 100));
    CHECK(in_position(*a));
    CHECK_FALSE(in_position(*b));
    CHECK(f.refused_limits() == std::vector<std::string>{"max_open_positions"});
    CHECK(f.book.snapshot().open_positions == 1);
    a->on_event(quote_event(k_start + 25'000, 120, 120.02));  // take-profit
    CHECK(f.book.snapshot().open_positions == 0);
    b->on_event(candle_at(30, 100));
    CHECK(in_position(*b));
    CHECK(f.book.snapshot().open_positions == 1);
}

TEST_CASE("risk: the global max_daily_loss adds up every symbol's losses") {
    fixture f;
    config::risk_config limits;
    limits.max_daily_loss = 30;
    f.book.set_limits(limits);
    auto a = f.runner({}, "AAAUSDT");
    auto b = f.runner({}, "BBBUSDT");
    for (auto* r : {a.get(), b.get()}) {
        r->on_event(candle_at(10, 100));
        r->on_event(candle_at(20, 100));
        REQUIRE(in_position(*r));
        r->on_event(quote_event(k_start + 21'000, 80, 80.02));  // about -20 each
    }
    CHECK(f.book.snapshot().daily_realized_pnl < -30);
    a->on_event(candle_at(30, 100));
    a->on_event(candle_at(40, 100));
    CHECK_FALSE(in_position(*a));
    CHECK(f.refused_limits() == std::vector<std::string>{"max_daily_loss"});
    const auto rec = f.sink.with_event("risk_refused").at(0);
    CHECK(rec["message"].get<std::string>().find("over all symbols") != std::string::npos);
}

TEST_CASE("risk: the kill switch refuses every entry but never an exit") {
    fixture f;
    auto r = f.runner({});
    r->on_event(candle_at(10, 100));
    r->on_event(candle_at(20, 100));
    REQUIRE(in_position(*r));
    f.book.set_halt(true, "halted by test");
    r->on_event(quote_event(k_start + 21'000, 80, 80.02));  // the stop-loss still fires
    CHECK_FALSE(in_position(*r));
    r->on_event(candle_at(30, 100));
    r->on_event(candle_at(40, 100));
    CHECK_FALSE(in_position(*r));
    CHECK(f.refused_limits() == std::vector<std::string>{"kill_switch"});
    CHECK(f.sink.with_event("risk_refused")
              .at(0)["message"]
              .get<std::string>()
              .find("halted by test") != std::string::npos);
    f.book.set_halt(false, {});
    r->on_event(candle_at(50, 100));
    CHECK(in_position(*r));
}

TEST_CASE("risk: flatten closes the open position at the last quote") {
    fixture f;
    auto r = f.runner({});
    CHECK_FALSE(r->flatten("nothing to close"));
    r->on_event(candle_at(10, 100));
    r->on_event(candle_at(20, 100));
    REQUIRE(in_position(*r));
    r->on_event(quote_event(k_start + 22'000, 101, 101.02));
    CHECK(r->flatten("kill switch: test"));
    CHECK_FALSE(in_position(*r));
    const auto fills = f.sink.with_event("fill");
    REQUIRE(fills.size() == 2);
    CHECK(fills[1]["side"] == "sell");
    CHECK(fills[1]["price"] == doctest::Approx(101));
    CHECK(fills[1]["reason"] == "kill switch: test");
}

TEST_CASE("risk: order_rate and daily_pnl follow market time") {
    engine::order_rate rate;
    rate.note(1'000);
    rate.note(30'000);
    CHECK(rate.in_last_minute(30'000) == 2);
    CHECK(rate.in_last_minute(60'999) == 2);  // (0.999 s, 60.999 s] still holds 1 s
    CHECK(rate.in_last_minute(61'000) == 1);  // (1 s, 61 s] does not
    CHECK(rate.in_last_minute(90'000) == 0);
    engine::daily_pnl day;
    day.add(-3, k_start + 1);
    day.add(-2, k_start + 86'399'999);
    CHECK(day.on_day_of(k_start) == -5);
    day.add(1, k_start + 86'400'000);  // next day starts from zero
    CHECK(day.on_day_of(k_start + 86'400'000) == 1);
    CHECK(day.on_day_of(k_start) == 0);
    CHECK(engine::utc_day(-1) == -1);
}

TEST_CASE("risk: a restart recovers the day's realised P&L from the account's fills") {
    using exec::fill;
    using exec::order_side;
    std::deque<fill> fills = {
        {order_side::buy, 1, 100, 0.1, k_start - 3'600'000},  // opened the day before
        {order_side::sell, 1, 90, 0.1, k_start + 1'000},      // closed today: -10.2
        {order_side::sell, 2, 50, 0.1, k_start + 2'000},      // short opened today
        {order_side::buy, 2, 45, 0.1, k_start + 3'000},       // closed today: +9.8
        {order_side::buy, 1, 10, 0, k_start + 4'000},         // still open: not realised
    };
    const auto today = engine::recover_from_fills(fills, k_start + 5'000);
    CHECK(today.day_pnl == doctest::Approx(-0.4));
    CHECK(today.last_exit_ts == k_start + 3'000);
    CHECK(engine::recover_from_fills(fills, k_start - 1).day_pnl == doctest::Approx(0));
    engine::symbol_risk risk({.max_daily_loss = 0.3, .cooldown_after_exit_s = 10});
    risk.restore(-0.4, k_start + 5'000, k_start + 3'000);
    const auto refusal = risk.check_entry(1, 10, k_start + 6'000);
    REQUIRE(refusal);
    CHECK(std::string(refusal->limit) == "max_daily_loss");
    risk.set_limits({.cooldown_after_exit_s = 10});
    REQUIRE(risk.check_entry(1, 10, k_start + 6'000));
    CHECK(std::string(risk.check_entry(1, 10, k_start + 6'000)->limit) == "cooldown_after_exit_s");
    CHECK_FALSE(risk.check_entry(1, 10, k_start + 13'000));
}

TEST_CASE("risk: the kill switch file is the source of truth, and a halt survives a restart") {
    testing::temp_dir dir;
    const auto file = dir.path() / "HALT";
    engine::risk_book book;
    {
        engine::kill_switch ks(file, book);
        CHECK_FALSE(ks.poll());
        CHECK_FALSE(book.halted());
        CHECK_FALSE(ks.engage("SIGUSR1"));
        CHECK(book.halted());
        CHECK(book.halt_reason().find("halted by SIGUSR1 at ") == 0);
        REQUIRE(std::filesystem::exists(file));
        CHECK(testing::read_file(file).find("halted by SIGUSR1") == 0);
    }
    engine::risk_book after_restart;
    engine::kill_switch ks(file, after_restart);
    CHECK(ks.poll());  // the file left by the previous run halts the new one
    CHECK(after_restart.halted());
    CHECK(after_restart.halt_reason().find("SIGUSR1") != std::string::npos);
    CHECK_FALSE(ks.release("POST /resume"));
    CHECK_FALSE(std::filesystem::exists(file));
    CHECK_FALSE(after_restart.halted());
    dir.write("HALT", "");  // an operator's `touch HALT`
    CHECK(ks.poll());
    CHECK(after_restart.halted());
    CHECK(after_restart.halt_reason() == "kill switch file " + file.string() + " exists");
    std::filesystem::remove(file);  // `rm HALT`
    CHECK(ks.poll());
    CHECK_FALSE(after_restart.halted());
}

TEST_CASE("risk: a kill switch whose file cannot be written still halts until released") {
    // A path under a regular file: unwritable even for root (who ignores directory modes).
    testing::temp_dir dir;
    dir.write("not-a-dir", "x");
    engine::risk_book book;
    engine::kill_switch ks(dir.path() / "not-a-dir" / "HALT", book);
    const auto error = ks.engage("test");
    REQUIRE(error);
    CHECK(error->find("cannot create") != std::string::npos);
    CHECK(book.halted());
    CHECK_FALSE(ks.poll());  // no file, but the halt stays
    CHECK(book.halted());
    ks.release("test");
    CHECK_FALSE(book.halted());
}
